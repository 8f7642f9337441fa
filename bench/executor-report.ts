/**
 * What the Cloudberry 'e' executor costs on the embedded engine: single-row INSERTs into a
 * partitioned table, one at a time, by a typed client on the plain listener (the anchor) and by a
 * dispatcher on the executor listener of the same server, which gets one 'e' per INSERT naming
 * the leaf partition (two side queries of pg_stat counters per statement) and consumes it.
 *
 * Both run through pgspec + PGlite, alternated so that load drift hits both alike. Statements per
 * second; nothing is asserted.
 */
import { cloudberryExtendProtocol, ExtendProtocolSubtag } from '../generated/extensions/cloudberry-extend-protocol/index.js';
import { PgClientConnection } from '../runtime/client/index.js';
import { PgliteEngine } from '../runtime/engines/pglite/index.js';
import { EXECUTOR_PROTOCOL, cloudberryExecutorProtocol } from '../runtime/extend-protocol/executor-protocol.js';
import { pgliteExecutor } from '../runtime/extend-protocol/pglite-executor.js';
import { PgServer } from '../runtime/server/server.js';
import { median, type BenchOptions, type BenchResult } from './harness.js';

export const name = "the 'e' executor on PGlite";

const PLAIN = 'plain client, INSERT one row';
const DISPATCHER = "dispatcher, INSERT one row + 'e' consumed";

async function insertsPerSecond(client: PgClientConnection, count: number, consume: boolean): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    await client.execute('insert into measured values ($1, $2)', [String(i % 4), 'x']);
    if (consume && client.extendProtocolData?.consume(ExtendProtocolSubtag.Inserted) === undefined) {
      throw new Error('the dispatcher got no Inserted block for an INSERT');
    }
  }
  return count / ((performance.now() - started) / 1000);
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 200 : 2000;
  const runs = options.runs ?? (options.quick ? 1 : 5);
  const engine = await PgliteEngine.create();
  const server = new PgServer({
    engine: pgliteExecutor(engine),
    protocols: [cloudberryExecutorProtocol()],
    listeners: [
      { host: '127.0.0.1', port: 0 },
      { protocol: EXECUTOR_PROTOCOL, host: '127.0.0.1', port: 0 },
    ],
  });
  const [plainAddress, executorAddress] = await server.listen();
  const clients: PgClientConnection[] = [];
  try {
    const connect = async (port: number, extensions: (typeof cloudberryExtendProtocol)[]): Promise<PgClientConnection> => {
      const c = await PgClientConnection.connect({ host: '127.0.0.1', port, user: 'postgres', tls: 'disable', extensions });
      clients.push(c);
      return c;
    };
    const plain = await connect(plainAddress!.port!, []);
    const dispatcher = await connect(executorAddress!.port!, [cloudberryExtendProtocol]);
    await plain.query(
      'create table measured (k int, v text) partition by list (k);' +
        [0, 1, 2, 3].map((k) => `create table measured_${k} partition of measured for values in (${k});`).join(''),
    );
    const plainRuns: number[] = [];
    const dispatcherRuns: number[] = [];
    await insertsPerSecond(plain, Math.min(count, 100), false);
    await insertsPerSecond(dispatcher, Math.min(count, 100), true);
    for (let r = 0; r < runs; r++) {
      plainRuns.push(await insertsPerSecond(plain, count, false));
      dispatcherRuns.push(await insertsPerSecond(dispatcher, count, true));
    }
    const anchor = median(plainRuns);
    const reported = median(dispatcherRuns);
    return {
      name,
      unit: 'statements/s',
      anchor: PLAIN,
      figures: [
        { label: PLAIN, perSecond: anchor, ratio: 1, anchor: true },
        { label: DISPATCHER, perSecond: reported, ratio: reported / anchor },
      ],
      notes: [
        `${count} autocommit INSERTs per run into a table with 4 list partitions, one at a time (extended protocol), median of ${runs} alternated runs.`,
        `Per statement the executor adds ${((1 / reported - 1 / anchor) * 1000).toFixed(2)} ms: two side queries of the backend's tuple counters in the session's own backend state.`,
      ],
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server.close();
    await engine.close();
  }
}
