/**
 * The server side of `npm run load`, in its own process so its memory is its own: starts a pgspec
 * server over the chosen engine, tells the parent its port, samples its RSS, and on "stop" closes
 * and reports the peak.
 */
import { HandlerEngine } from '../runtime/engines/handlers/index.js';
import { TrivialEngine } from '../runtime/engines/trivial/trivial-engine.js';
import type { Engine } from '../runtime/engine.js';
import { PgServer } from '../runtime/server/server.js';

export type EngineName = 'trivial' | 'handlers' | 'pglite';

async function makeEngine(name: EngineName): Promise<Engine> {
  if (name === 'trivial') return new TrivialEngine();
  if (name === 'pglite') {
    const { PgliteEngine } = await import('../runtime/engines/pglite/index.js');
    return PgliteEngine.create();
  }
  // SELECT n answers n; COPY ... FROM STDIN counts its rows.
  return new HandlerEngine({
    prepare: (sql) => (/^\s*select/i.test(sql) ? { columns: [{ name: 'n', type: 'int4' }] } : {}),
    execute: (portal) => {
      const n = /select\s+(\d+)/i.exec(portal.sql)?.[1];
      return n !== undefined ? { rows: [[Number(n)]] } : {};
    },
    copyFrom: () => ({
      columns: [{ name: 'n', type: 'int4' }, { name: 't', type: 'text' }],
      write: async (rows) => {
        let count = 0;
        for await (const _ of rows) count++;
        return count;
      },
    }),
  });
}

const engineName = (process.argv[2] ?? 'trivial') as EngineName;
const maxConnections = process.argv[3] ? Number(process.argv[3]) : undefined;
const server = new PgServer({ engine: await makeEngine(engineName), listeners: [{ host: '127.0.0.1', port: 0 }], ...(maxConnections ? { maxConnections } : {}) });
const [address] = await server.listen();
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
process.send!({ port: address!.port, baselineRss: process.memoryUsage().rss });
process.on('message', async (m: string) => {
  if (m !== 'stop') return;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const open = server.connectionCount;
  await server.close();
  process.send!({ peakRss, openAtStop: open }, () => process.exit(0));
});
