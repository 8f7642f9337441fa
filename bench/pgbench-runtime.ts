/**
 * pgbench `select 1` through pgspec's own runtime, two comparisons:
 *
 * 1. The runtime's ceiling: `-M extended -c 8` against pgspec with the trivial in-process engine
 *    (no database behind it) and against a real PostgreSQL 15 started on loopback.
 * 2. The runtime's overhead in front of the embedded engine: `-M extended -c 1` through pgspec +
 *    PGlite (worker thread, sockets, session bookkeeping) against a loop in this process that
 *    hands PGlite the same Parse/Bind/Describe/Execute/Sync bytes with `execProtocolRaw` and
 *    waits for each answer, as pgbench's single client does.
 *
 * Every figure is queries (= transactions) per second. The table's ratios are to PostgreSQL 15;
 * the PGlite ratio is in the notes. Nothing is asserted.
 */
import { PGlite } from '@electric-sql/pglite';
import { encodeBind, encodeDescribe, encodeExecute, encodeParse, encodeSync } from '../generated/index.js';
import { ValueList, Writer } from '../runtime/wire/index.js';
import { PgServer } from '../runtime/server/server.js';
import { TrivialEngine } from '../runtime/engines/trivial/trivial-engine.js';
import { PgliteEngine } from '../runtime/engines/pglite/index.js';
import { startPostgres, type PostgresServer } from '../test/support/postgres-server.js';
import { runPgbench } from '../test/support/clients.js';
import { median, type BenchFigure, type BenchOptions, type BenchResult } from './harness.js';

export const name = 'pgbench select 1 on the runtime';

const QUERY = 'select 1';
const ANCHOR = 'PostgreSQL 15, -c 8';
const TRIVIAL = 'pgspec + trivial engine, -c 8';
const PGLITE_DIRECT = 'PGlite execProtocolRaw in-process, 1 at a time';
const PGLITE_RUNTIME = 'pgspec + PGlite, -c 1';

/** Runs pgbench on a `select 1` script for `seconds`; returns its tps (without connection time). */
async function pgbenchTps(port: number, clients: number, seconds: number): Promise<number> {
  const threads = Math.min(clients, 2);
  const r = await runPgbench(
    ['-n', '-M', 'extended', '-c', String(clients), '-j', String(threads), '-T', String(seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'postgres'],
    { script: `${QUERY}\n`, timeoutMs: (seconds + 60) * 1000 },
  );
  const tps = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(r.stdout);
  const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
  if (r.exitCode !== 0 || !tps) throw new Error(`pgbench on port ${port} failed:\n${r.stderr}\n${r.stdout}`);
  if (failed && failed[1] !== '0') throw new Error(`pgbench on port ${port}: ${failed[1]} failed transactions`);
  return Number(tps[1]);
}

/** What pgbench -M extended sends for one `select 1`: Parse, Bind, Describe portal, Execute, Sync. */
function extendedSelect1(): Uint8Array {
  const w = new Writer(128);
  encodeParse(w, { type: 'Parse', statement: '', query: QUERY, parameterTypes: [] });
  encodeBind(w, { type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [0] });
  encodeDescribe(w, { type: 'Describe', target: 'P', name: '' });
  encodeExecute(w, { type: 'Execute', portal: '', maxRows: 0 });
  encodeSync(w, { type: 'Sync' });
  return w.take();
}

/** The type bytes of the messages in a backend byte stream. */
function messageTypes(bytes: Uint8Array): string {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  for (let at = 0; at + 5 <= view.length; at += 1 + view.readInt32BE(at + 1)) out += String.fromCharCode(view[at]!);
  return out;
}

/** Sends the batch to PGlite in this process, one after another, for `seconds`; returns batches per second. */
async function directTps(pg: PGlite, batch: Uint8Array, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < until) {
    await pg.execProtocolRaw(batch, { syncToFs: false });
    n++;
  }
  return (n * 1000) / (performance.now() - t0);
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? 1 : 10;
  const runs = options.runs ?? (options.quick ? 1 : 3);
  const batch = extendedSelect1();

  let postgres: PostgresServer | undefined;
  let direct: PGlite | undefined;
  const servers: PgServer[] = [];
  try {
    const trivial = new PgServer({ engine: new TrivialEngine(), listeners: [{ host: '127.0.0.1', port: 0 }] });
    servers.push(trivial);
    const [trivialAddress] = await trivial.listen();
    // The slow starts (initdb, two PGlite instances) overlap.
    const started = await Promise.allSettled([startPostgres({ settings: { max_connections: 50 } }), PgliteEngine.create(), PGlite.create()] as const);
    const [pgStarted, engineStarted, directStarted] = started;
    if (pgStarted.status === 'fulfilled') postgres = pgStarted.value;
    if (directStarted.status === 'fulfilled') direct = directStarted.value;
    if (engineStarted.status === 'rejected' || pgStarted.status === 'rejected' || directStarted.status === 'rejected') {
      if (engineStarted.status === 'fulfilled') await engineStarted.value.close();
      const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')!;
      throw failure.reason;
    }
    const pgliteEngine = engineStarted.value;
    const inProcess = directStarted.value;
    const embedded = new PgServer({ engine: pgliteEngine, listeners: [{ host: '127.0.0.1', port: 0 }] });
    servers.push(embedded);
    const [embeddedAddress] = await embedded.listen();

    // The direct loop must get what pgbench gets: ParseComplete, BindComplete, RowDescription,
    // DataRow, CommandComplete, ReadyForQuery.
    const answer = messageTypes(await inProcess.execProtocolRaw(batch, { syncToFs: false }));
    if (answer !== '12TDCZ') throw new Error(`PGlite answered the select 1 batch with ${answer}, expected 12TDCZ`);

    const variants: [string, () => Promise<number>][] = [
      [ANCHOR, () => pgbenchTps(pgStarted.value.port, 8, seconds)],
      [TRIVIAL, () => pgbenchTps(trivialAddress!.port!, 8, seconds)],
      [PGLITE_DIRECT, () => directTps(inProcess, batch, seconds)],
      [PGLITE_RUNTIME, () => pgbenchTps(embeddedAddress!.port!, 1, seconds)],
    ];
    // Untimed runs: the first ones pay for JIT warm-up and PGlite's caches.
    const warmup = options.warmup ?? (options.quick ? 0 : 1);
    for (let i = 0; i < warmup; i++) for (const [, once] of variants) await once();
    const seen = new Map<string, number[]>(variants.map(([label]) => [label, []]));
    for (let i = 0; i < runs; i++) {
      for (const [label, once] of variants) seen.get(label)!.push(await once());
    }
    const rate = (label: string): number => median(seen.get(label)!);
    const base = rate(ANCHOR);
    const figures: BenchFigure[] = variants.map(([label]) => ({
      label,
      perSecond: rate(label),
      ratio: rate(label) / base,
      ...(label === ANCHOR ? { anchor: true } : {}),
    }));
    const overhead = rate(PGLITE_RUNTIME) / rate(PGLITE_DIRECT);
    return {
      name,
      unit: 'tps',
      anchor: ANCHOR,
      figures,
      notes: [
        `pgbench -M extended -n -T ${seconds} on a "${QUERY}" script (-c 8 -j 2, or -c 1), median of ${runs} run(s); the pgspec servers run in this process, pgbench and PostgreSQL 15 as processes`,
        `pgspec + trivial engine / PostgreSQL 15 = ${(rate(TRIVIAL) / base).toFixed(2)}x`,
        `pgspec + PGlite / PGlite called in-process with the same P/B/D/E/S bytes = ${overhead.toFixed(2)}x (the runtime's overhead: sockets, worker thread, decoding, session handling)`,
      ],
    };
  } finally {
    for (const s of servers) await s.close().catch(() => undefined);
    await direct?.close().catch(() => undefined);
    await postgres?.stop();
  }
}
