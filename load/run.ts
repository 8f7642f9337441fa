/**
 * `npm run load [-- --seconds S] [-- --connections N] [-- --engine trivial|handlers|pglite]`
 *
 * Opens N concurrent connections (default 1,000) to a pgspec server running in a child process and
 * runs a mixed workload on each for S seconds (default 20): simple queries, extended queries,
 * pipelines of five Bind/Execute behind one Sync, and COPY FROM STDIN where the engine supports it
 * (handlers, pglite) and NOTIFY (pglite; a few clients LISTEN). Reports operations per second, p50/p99 latency, errors (anything other than
 * the expected answers: must be zero) and the server's peak RSS. Exits 1 on any error.
 */
import { Buffer } from 'node:buffer';
import { fork } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { BACKEND_TABLE, PROTOCOL_3_0, encodeFrontend, type BackendMessage, type FrontendMessage } from '../generated/index.js';
import { StreamDecoder, ValueList, Writer } from '../runtime/wire/index.js';
import type { EngineName } from './server.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const seconds = Number(arg('seconds', '20'));
const connections = Number(arg('connections', '1000'));
const engine = arg('engine', 'trivial') as EngineName;
const withCopy = engine !== 'trivial';

function encode(...messages: FrontendMessage[]): Buffer {
  const w = new Writer();
  for (const m of messages) encodeFrontend(w, m);
  return Buffer.from(w.take());
}

const noParams = { parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] };
const WORKLOADS: { name: string; bytes: Buffer; readies: number; copy?: boolean }[] = [
  { name: 'simple', bytes: encode({ type: 'Query', query: 'SELECT 1' }), readies: 1 },
  {
    name: 'extended',
    bytes: encode(
      { type: 'Parse', statement: '', query: 'SELECT 2', parameterTypes: [] },
      { type: 'Bind', portal: '', statement: '', ...noParams },
      { type: 'Describe', target: 'P', name: '' },
      { type: 'Execute', portal: '', maxRows: 0 },
      { type: 'Sync' },
    ),
    readies: 1,
  },
  {
    name: 'pipelined',
    bytes: encode(
      { type: 'Parse', statement: 'p', query: 'SELECT 3', parameterTypes: [] },
      ...Array.from({ length: 5 }, (): FrontendMessage[] => [
        { type: 'Bind', portal: '', statement: 'p', ...noParams },
        { type: 'Execute', portal: '', maxRows: 0 },
      ]).flat(),
      { type: 'Close', target: 'S', name: 'p' },
      { type: 'Sync' },
      { type: 'Query', query: 'SELECT 4' },
    ),
    readies: 2,
  },
  ...(withCopy
    ? [
        {
          name: 'copy',
          bytes: Buffer.concat([
            encode({ type: 'Query', query: engine === 'pglite' ? 'COPY load_copy FROM STDIN' : 'COPY t FROM STDIN' }),
            encode({ type: 'CopyData', data: Buffer.from('1\tone\n2\ttwo\n') }, { type: 'CopyDone' }),
          ]),
          readies: 1,
          copy: true,
        },
      ]
    : []),
  // NOTIFY where the engine has it; a few clients LISTEN, so notifications are delivered under load too.
  ...(engine === 'pglite' ? [{ name: 'notify', bytes: encode({ type: 'Query', query: "NOTIFY load_channel, 'x'" }), readies: 1 }] : []),
];

interface Stats {
  ops: number;
  errors: number;
  errorSamples: string[];
  latencies: Float64Array;
  n: number;
}
const stats: Stats = { ops: 0, errors: 0, errorSamples: [], latencies: new Float64Array(8_000_000), n: 0 };

function error(what: string): void {
  stats.errors++;
  if (stats.errorSamples.length < 10) stats.errorSamples.push(what);
}

/** One client: logs in, then runs workloads back to back until `stopAt`. */
async function client(port: number, index: number, stopAt: number): Promise<void> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  const decoder = new StreamDecoder<BackendMessage>(BACKEND_TABLE, { context: { protocolVersion: PROTOCOL_3_0 } });
  let waiting: { readies: number; resolve: (ok: boolean) => void; failed: string | undefined } | undefined;
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    try {
      for (let m = decoder.next(); m !== undefined; m = decoder.next()) {
        if (m.type === 'ErrorResponse' && waiting) waiting.failed ??= m.fields.map((f) => `${f.code}=${f.value}`).join(' ');
        if (m.type === 'ReadyForQuery' && waiting && --waiting.readies === 0) {
          const w = waiting;
          waiting = undefined;
          w.resolve(w.failed === undefined);
          if (w.failed) error(`client ${index}: ${w.failed}`);
        }
      }
    } catch (err) {
      error(`client ${index}: undecodable answer: ${(err as Error).message}`);
      socket.destroy();
    }
  });
  const onEnd = (): void => {
    closed = true;
    if (waiting) {
      error(`client ${index}: connection closed by the server`);
      waiting.resolve(false);
      waiting = undefined;
    }
  };
  socket.on('close', onEnd);
  socket.on('error', onEnd);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const roundTrip = (bytes: Buffer, readies: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (closed) return resolve(false);
      waiting = { readies, resolve, failed: undefined };
      socket.write(bytes);
    });
  const login = encode({ type: 'StartupMessage', protocolVersion: PROTOCOL_3_0, parameters: [{ name: 'user', value: 'load' }, { name: 'database', value: 'postgres' }] });
  if (!(await roundTrip(login, 1))) return;
  if (engine === 'pglite' && index === 0) await roundTrip(encode({ type: 'Query', query: 'CREATE TABLE IF NOT EXISTS load_copy (n int, t text)' }), 1);
  if (engine === 'pglite' && index % 100 === 0) await roundTrip(encode({ type: 'Query', query: 'LISTEN load_channel' }), 1);
  let k = index;
  while (Date.now() < stopAt && !closed) {
    const w = WORKLOADS[k++ % WORKLOADS.length]!;
    const t = performance.now();
    const ok = await roundTrip(w.bytes, w.readies);
    if (!ok) break;
    if (stats.n < stats.latencies.length) stats.latencies[stats.n++] = performance.now() - t;
    stats.ops++;
  }
  socket.end(encode({ type: 'Terminate' }));
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function main(): Promise<void> {
  const child = fork(new URL('./server.ts', import.meta.url).pathname, [engine], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ port: number; baselineRss: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number; baselineRss: number }));
    child.once('exit', (code) => reject(new Error(`the load server exited (${code})`)));
  });
  process.stdout.write(`load: ${connections} connections, ${seconds} s, engine ${engine}, workloads ${WORKLOADS.map((w) => w.name).join('/')}\n`);
  // Connect in waves so the listen backlog is never the bottleneck being measured.
  const start = Date.now();
  const stopAt = start + seconds * 1000;
  const clients: Promise<void>[] = [];
  for (let i = 0; i < connections; i++) {
    clients.push(client(ready.port, i, stopAt).catch((err: Error) => error(`client ${i}: ${err.message}`)));
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(clients);
  const elapsed = (Date.now() - start) / 1000;
  const done = new Promise<{ peakRss: number; openAtStop: number }>((resolve) => child.once('message', (m) => resolve(m as { peakRss: number; openAtStop: number })));
  child.send('stop');
  const server = await done;
  const sorted = stats.latencies.slice(0, stats.n).sort();
  const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`;
  const lines = [
    `operations: ${stats.ops.toLocaleString('en-US')} in ${elapsed.toFixed(1)} s = ${Math.round(stats.ops / elapsed).toLocaleString('en-US')} ops/s`,
    `latency: p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms, max ${percentile(sorted, 1).toFixed(2)} ms`,
    `errors: ${stats.errors}`,
    `server RSS: baseline ${mb(ready.baselineRss)}, peak ${mb(server.peakRss)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  for (const e of stats.errorSamples) process.stdout.write(`  ${e}\n`);
  process.exitCode = stats.errors === 0 ? 0 : 1;
}

await main();
