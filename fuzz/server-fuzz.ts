/**
 * Server fuzzing: random and mutated byte streams sent to a live pgspec server at every stage of
 * a connection (before startup, during SCRAM authentication, idle, mid-pipeline, mid-COPY), while
 * a control client runs SELECT 1 throughout. Run it with `--expose-gc` so memory can be measured
 * after garbage collection:
 *
 *   node --expose-gc --import tsx fuzz/server-fuzz.ts [--connections N] [--seconds S] [--seed S]
 *
 * Prints one JSON report. For every fuzzed connection: everything the server sends decodes; a
 * FATAL error is the last thing it sends; once the client has sent its bytes and ended its side,
 * the server closes within a few seconds (no hang). Afterwards the server still serves, the
 * control client never failed, no state violation was reported, and the heap (after GC) is back
 * near its baseline.
 */
import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { BACKEND_TABLE, FRONTEND_TABLE, PROTOCOL_3_0, encodeFrontend, type BackendMessage, type FrontendMessage } from '../generated/index.js';
import { ScramClientSession } from '../runtime/auth/index.js';
import { HandlerEngine } from '../runtime/engines/handlers/index.js';
import { PgServer } from '../runtime/server/server.js';
import { ProtocolDecodeError, StreamDecoder, ValueList, Writer } from '../runtime/wire/index.js';
import { captureSeeds, messageSeeds, type Seed } from './corpus.js';
import { below, mutate, pick, prng, type Rng } from './mutate.js';

export const STAGES = ['before-startup', 'authentication', 'idle', 'mid-pipeline', 'mid-copy'] as const;
export type Stage = (typeof STAGES)[number];

export interface ServerFuzzReport {
  readonly connections: number;
  readonly byStage: Record<string, number>;
  /** How the fuzzed connections ended. */
  readonly endings: Record<string, number>;
  readonly failures: string[];
  readonly controlQueries: number;
  readonly controlFailures: number;
  readonly violations: number;
  readonly heap: { baselineMB: number; afterMB: number; growthMB: number; peakRssMB: number };
  readonly seconds: number;
}

const PASSWORD = 'fuzz-pw';
const CLOSE_WITHIN_MS = 5000;

function encode(...messages: FrontendMessage[]): Buffer {
  const w = new Writer();
  for (const m of messages) encodeFrontend(w, m);
  return Buffer.from(w.take());
}

/** A minimal client over one socket: writes bytes, reads decoded backend messages. */
class Probe {
  private readonly decoder = new StreamDecoder<BackendMessage>(BACKEND_TABLE, { context: { protocolVersion: PROTOCOL_3_0 } });
  readonly received: BackendMessage[] = [];
  decodeError: string | undefined;
  closed = false;
  /** Requests sent whose one-byte replies (SSLRequest → 'S'/'N') may come next, in order. */
  pendingReplies: string[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      try {
        for (;;) {
          this.decoder.expectReply = this.pendingReplies[0];
          const m = this.decoder.next();
          if (m === undefined) break;
          if (this.decoder.expectReply !== undefined && (m.type === 'SSLRejected' || m.type === 'SSLAccepted' || m.type === 'GSSENCRejected' || m.type === 'GSSENCAccepted')) this.pendingReplies.shift();
          else this.pendingReplies = [];
          this.received.push(m);
        }
      } catch (err) {
        this.decodeError = err instanceof ProtocolDecodeError ? err.message : String(err);
      }
      this.wake();
    });
    const end = (): void => {
      this.closed = true;
      this.wake();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(port: number): Promise<Probe> {
    const socket = connect({ host: '127.0.0.1', port });
    return new Promise((resolve, reject) => socket.once('connect', () => resolve(new Probe(socket))).once('error', reject));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until a message of `type` has arrived (after index `from`) or the socket closes. */
  async waitFor(type: BackendMessage['type'], from = 0, timeoutMs = CLOSE_WITHIN_MS): Promise<BackendMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find((m) => m.type === type);
      if (found) return found;
      if (this.closed || Date.now() > deadline) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }
}

const startupFor = (user: string): FrontendMessage => ({ type: 'StartupMessage', protocolVersion: PROTOCOL_3_0, parameters: [{ name: 'user', value: user }, { name: 'database', value: 'fuzz' }] });

/** Takes a fresh connection to `stage`; false if the server did not get it there. */
async function reach(p: Probe, stage: Stage): Promise<boolean> {
  if (stage === 'before-startup') return true;
  if (stage === 'authentication') {
    p.socket.write(encode(startupFor('scram')));
    const sasl = await p.waitFor('AuthenticationSASL');
    if (sasl?.type !== 'AuthenticationSASL') return false;
    // Half the time, stop after the client-first message (the server awaits a SASLResponse).
    if (Math.random() < 0.5) return true;
    const scram = new ScramClientSession({ password: PASSWORD, mechanisms: sasl.mechanisms, channelBindingMode: 'disable' });
    p.socket.write(encode({ type: 'SASLInitialResponse', mechanism: scram.mechanism, data: scram.clientFirst() }));
    return (await p.waitFor('AuthenticationSASLContinue')) !== undefined;
  }
  p.socket.write(encode(startupFor('trusted')));
  if ((await p.waitFor('ReadyForQuery')) === undefined) return false;
  if (stage === 'idle') return true;
  if (stage === 'mid-pipeline') {
    p.socket.write(
      encode(
        { type: 'Parse', statement: '', query: 'SELECT 1', parameterTypes: [] },
        { type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] },
        { type: 'Flush' },
      ),
    );
    return (await p.waitFor('BindComplete')) !== undefined;
  }
  const from = p.received.length;
  p.socket.write(encode({ type: 'Query', query: 'COPY t FROM STDIN' }));
  if ((await p.waitFor('CopyInResponse', from)) === undefined) return false;
  p.socket.write(encode({ type: 'CopyData', data: Buffer.from('1\tone\n') }));
  return true;
}

/** The hostile bytes: random, or a mutated frontend stream (a capture or encoded messages). */
function hostileBytes(rng: Rng, seeds: readonly Seed[]): Buffer {
  if (rng() < 0.3) {
    const b = Buffer.alloc(1 + below(rng, 512));
    for (let i = 0; i < b.length; i++) b[i] = below(rng, 256);
    return b;
  }
  const seed = pick(rng, seeds);
  const bytes = mutate(seed.bytes, { lengthOffsets: [], donor: pick(rng, seeds).bytes }, rng);
  // A capture's frontend stream starts with its startup packet: past startup, skip that part sometimes.
  return bytes.subarray(0, Math.min(bytes.length, 64 * 1024));
}

function makeEngine(): HandlerEngine {
  return new HandlerEngine({
    prepare: (sql) => (/^\s*select/i.test(sql) ? { columns: [{ name: 'n', type: 'int4' }] } : {}),
    execute: (portal) => (portal.columns.length > 0 ? { rows: [[1]] } : {}),
    copyFrom: () => ({
      columns: [
        { name: 'n', type: 'int4' },
        { name: 't', type: 'text' },
      ],
      write: async (rows) => {
        let n = 0;
        for await (const _ of rows) n++;
        return n;
      },
    }),
  });
}

const mb = (n: number): number => Math.round((n / 1024 / 1024) * 10) / 10;

function collect(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

export async function runServerFuzz(options: { connections: number; seconds: number; seed: number; concurrency?: number }): Promise<ServerFuzzReport> {
  const rng = prng(options.seed);
  let violations = 0;
  const server = new PgServer({
    engine: makeEngine(),
    users: [`scram:scram-sha-256:${PASSWORD}`, 'trusted:trust'],
    listeners: [{ host: '127.0.0.1', port: 0 }],
    startupTimeoutMs: 3000,
    onViolation: () => violations++,
  });
  const [address] = await server.listen();
  const port = address!.port!;
  const seeds = [...captureSeeds(), ...messageSeeds(4, options.seed)].filter((s) => s.table.direction === 'frontend');
  const failures: string[] = [];
  const byStage: Record<string, number> = {};
  const endings: Record<string, number> = {};
  let peakRss = 0;

  // The control client: SELECT 1 over and over, on one connection, all along.
  const control = await Probe.open(port);
  control.socket.write(encode(startupFor('trusted')));
  await control.waitFor('ReadyForQuery');
  let controlQueries = 0;
  let controlFailures = 0;
  let stopControl = false;
  const controlLoop = (async () => {
    while (!stopControl) {
      const from = control.received.length;
      control.socket.write(encode({ type: 'Query', query: 'SELECT 1' }));
      const rfq = await control.waitFor('ReadyForQuery', from, 5000);
      if (rfq === undefined || control.received.slice(from).some((m) => m.type === 'ErrorResponse')) controlFailures++;
      controlQueries++;
      control.received.length = 0; // the probe's own record must not count as the server's growth
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  // Warm up, then take the baseline with the server idle but for the control client.
  await new Promise((r) => setTimeout(r, 300));
  const baseline = collect();

  const start = Date.now();
  const deadline = start + options.seconds * 1000;
  let done = 0;
  const one = async (index: number): Promise<void> => {
    const stage = STAGES[index % STAGES.length]!;
    byStage[stage] = (byStage[stage] ?? 0) + 1;
    const p = await Probe.open(port);
    try {
      if (!(await reach(p, stage))) {
        failures.push(`#${index} ${stage}: could not reach the stage (${p.received.map((m) => m.type).join(' ')})`);
        return;
      }
      const before = p.received.length;
      const bytes = hostileBytes(rng, seeds);
      if (stage === 'before-startup') p.pendingReplies = requestsAtHead(bytes);
      // In a few pieces, as a client would send them.
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + below(rng, bytes.length);
        if (!p.socket.destroyed) p.socket.write(bytes.subarray(at, at + n));
        at += n;
      }
      if (!p.socket.destroyed) p.socket.end();
      const closed = await p.waitClosed(CLOSE_WITHIN_MS);
      const after = p.received.slice(before);
      const fatalAt = after.findIndex((m) => m.type === 'ErrorResponse' && fieldOf(m, 'S') === 'FATAL');
      let ending: string;
      if (!closed) ending = 'HANG';
      else if (p.decodeError !== undefined) ending = 'UNDECODABLE';
      else if (fatalAt >= 0 && fatalAt !== after.length - 1) ending = 'MESSAGES-AFTER-FATAL';
      else if (fatalAt >= 0) ending = `fatal ${fieldOf(after[fatalAt]!, 'C')}`;
      else ending = 'clean close';
      endings[ending] = (endings[ending] ?? 0) + 1;
      if (ending === 'HANG' || ending === 'UNDECODABLE' || ending === 'MESSAGES-AFTER-FATAL') {
        failures.push(`#${index} ${stage}: ${ending} ${p.decodeError ?? ''} after ${bytes.subarray(0, 200).toString('hex')}`);
      }
    } finally {
      p.socket.destroy();
      done++;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
  };

  const concurrency = options.concurrency ?? 20;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < options.connections && Date.now() < deadline) await one(next++);
    }),
  );

  // Every fuzzed connection is gone; the server still serves a newcomer.
  for (let i = 0; i < 100 && server.connectionCount > 1; i++) await new Promise((r) => setTimeout(r, 50));
  if (server.connectionCount !== 1) failures.push(`${server.connectionCount - 1} fuzzed connections still open on the server`);
  const newcomer = await Probe.open(port);
  newcomer.socket.write(Buffer.concat([encode(startupFor('trusted')), encode({ type: 'Query', query: 'SELECT 1' })]));
  if ((await newcomer.waitFor('CommandComplete')) === undefined) failures.push('a new connection was not served after the fuzzing');
  newcomer.socket.destroy();

  stopControl = true;
  await controlLoop;
  await new Promise((r) => setTimeout(r, 300));
  const after = collect();
  control.socket.destroy();
  await server.close();
  return {
    connections: done,
    byStage,
    endings,
    failures,
    controlQueries,
    controlFailures,
    violations,
    heap: { baselineMB: mb(baseline), afterMB: mb(after), growthMB: mb(after - baseline), peakRssMB: mb(peakRss) },
    seconds: Math.round((Date.now() - start) / 100) / 10,
  };
}

/** The SSLRequest/GSSENCRequest packets at the head of a stream, which the server answers with one byte each. */
function requestsAtHead(bytes: Buffer): string[] {
  const d = new StreamDecoder(FRONTEND_TABLE, { framing: 'startup' });
  d.push(bytes);
  const out: string[] = [];
  try {
    for (let m = d.next(); m !== undefined && (m.type === 'SSLRequest' || m.type === 'GSSENCRequest'); m = d.next()) out.push(m.type);
  } catch {
    // the rest is not a request
  }
  return out;
}

function fieldOf(m: BackendMessage, code: string): string | undefined {
  if (m.type !== 'ErrorResponse') return undefined;
  return m.fields.find((f) => f.code === code)?.value;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = await runServerFuzz({
    connections: Number(arg('connections') ?? 500),
    seconds: Number(arg('seconds') ?? 60),
    seed: Number(arg('seed') ?? Date.now() % 0x7fffffff),
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const ok = report.failures.length === 0 && report.controlFailures === 0 && report.violations === 0 && report.heap.growthMB < 20;
  process.exitCode = ok ? 0 : 1;
}
