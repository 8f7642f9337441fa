/**
 * A directory of CSV files served as read-only PostgreSQL tables.
 *
 *   npx tsx examples/csv-server/main.ts --dir DIR [--port 5432] [--host 127.0.0.1]
 */
import { parseArgs } from 'node:util';
import { HandlerEngine } from '../../runtime/engines/handlers/index.js';
import { PgServer } from '../../runtime/server/server.js';
import { csvHandlers } from './csv-handlers.js';
import { loadDirectory } from './csv.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    port: { type: 'string', default: '5432' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
if (!values.dir) {
  process.stderr.write('usage: npx tsx examples/csv-server/main.ts --dir DIR [--port N] [--host H]\n');
  process.exit(2);
}

const tables = loadDirectory(values.dir);
const server = new PgServer({
  engine: new HandlerEngine(csvHandlers(tables), { name: 'csv', parameterStatus: { server_version: '15.0 (pgspec csv-server)' } }),
  listeners: [{ host: values.host, port: Number(values.port) }],
});
const [address] = await server.listen();
for (const t of tables.values()) {
  process.stdout.write(`table ${t.name}: ${t.rows.length} rows (${t.columns.map((c) => `${c.name} ${c.type}`).join(', ')})\n`);
}
process.stdout.write(`listening on ${address!.host}:${address!.port}\n`);

const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
