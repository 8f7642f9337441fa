/**
 * The worker thread that owns PGlite. It runs PostgreSQL's command loop on raw protocol bytes, as
 * PGlite's own execProtocolRaw does, but with its own read and write callbacks:
 *
 * - when PostgreSQL asks for input that the call did not bring (COPY FROM STDIN waiting for its
 *   CopyData), the worker posts the output so far and blocks until the main thread hands over more
 *   bytes through shared memory, instead of reporting end-of-file (which PGlite treats as a FATAL
 *   error that kills the instance);
 * - output is posted in pieces while a call runs, so a large result is not held twice;
 * - the WASM calls back into JavaScript for the clock many times a second while it sleeps or does
 *   I/O; those calls are where a cancel raised by the main thread is turned into PostgreSQL's
 *   QueryCancelPending, and where PostgreSQL's own timers (statement_timeout, lock_timeout) fire.
 *
 * Runs only as a worker: `new Worker(url, { workerData: WorkerOptions })`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PROTOCOL_3_0, encodeQuery, encodeStartupMessage } from '../../../generated/index.js';
import { Writer } from '../../wire/index.js';
import { CONTROL_BYTES, Slot, type FromWorker, type ToWorker, type WorkerOptions } from './worker-protocol.js';

/** The parts of PGlite's Emscripten module this worker uses (present in @electric-sql/pglite 0.5.x). */
interface PgliteModule {
  HEAPU8: Uint8Array;
  addFunction(fn: (ptr: number, len: number) => number, signature: string): number;
  stackSave(): number;
  stackRestore(sp: number): void;
  _pgl_set_rw_cbs(read: number, write: number): void;
  _PostgresMainLoopOnce(): void;
  _PostgresMainLongJmp(): void;
  _PostgresSendReadyForQueryIfNecessary(): void;
  _pgl_pq_flush(): void;
  _pq_buffer_remaining_data(): number;
  /** Addresses of PostgreSQL globals. */
  _QueryCancelPending: number;
  _InterruptPending: number;
  _MyLatch: number;
}

/** PGlite's status for a longjmp out of PostgreSQL's error handling (PGlite.POSTGRES_MAIN_LONGJMP). */
const POSTGRES_MAIN_LONGJMP = 100;

const options = workerData as WorkerOptions;
const port = parentPort!;
const control = new Int32Array(options.shared, 0, CONTROL_BYTES / 4);
const inputArea = new Uint8Array(options.shared, CONTROL_BYTES);

function post(message: FromWorker): void {
  const bytes = 'bytes' in message ? message.bytes : undefined;
  port.postMessage(message, bytes && bytes.byteLength > 0 ? [bytes.buffer as ArrayBuffer] : []);
}

// ---- timers and the clock -----------------------------------------------------------------------
// While a call runs, the event loop is blocked, so PostgreSQL's timers (Emscripten's setitimer uses
// setTimeout) are kept here and fired from the clock hooks instead.

interface PendingTimer {
  readonly due: number;
  readonly fn: (...args: unknown[]) => void;
  readonly args: unknown[];
}
const realDateNow = Date.now.bind(Date);
const realPerformanceNow = performance.now.bind(performance);
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const timers = new Map<number, PendingTimer>();
let nextTimerId = 1;
let inCall = false;

function installTimerHooks(): void {
  const setTimeoutHook = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): unknown => {
    if (!inCall) return realSetTimeout(fn, ms, ...args);
    const id = nextTimerId++;
    timers.set(id, { due: realDateNow() + (ms ?? 0), fn, args });
    return id;
  };
  const clearTimeoutHook = (id: unknown): void => {
    if (typeof id === 'number' && timers.delete(id)) return;
    realClearTimeout(id as Parameters<typeof clearTimeout>[0]);
  };
  globalThis.setTimeout = setTimeoutHook as unknown as typeof setTimeout;
  globalThis.clearTimeout = clearTimeoutHook as typeof clearTimeout;
  let ticks = 0;
  performance.now = () => {
    // pg_sleep spins on this clock; checking every call would slow it down for nothing.
    if ((++ticks & 255) === 0) onClock();
    return realPerformanceNow();
  };
  Date.now = () => {
    onClock();
    return realDateNow();
  };
}

function onClock(): void {
  if (!inCall) return;
  if (Atomics.load(control, Slot.Cancel) === 1) raiseCancel();
  if (timers.size === 0) return;
  const now = realDateNow();
  for (const [id, t] of timers) {
    if (t.due > now) continue;
    timers.delete(id);
    t.fn(...t.args);
  }
}

/** Timers that came due while no call ran belong to idle sessions (idle_in_transaction_session_timeout
 *  ends the backend with FATAL, which would end every session): they are dropped. */
function dropDueTimers(): void {
  const now = realDateNow();
  for (const [id, t] of timers) if (t.due <= now) timers.delete(id);
}

// ---- PGlite --------------------------------------------------------------------------------------

let mod: PgliteModule;
let pg: PGlite;
let input: Uint8Array = new Uint8Array(0);
let inputPos = 0;
let output: Uint8Array = new Uint8Array(64 * 1024);
let outputLength = 0;
let crashed = false;

function raiseCancel(): void {
  Atomics.store(control, Slot.Cancel, 0);
  const heap = new DataView(mod.HEAPU8.buffer);
  heap.setInt32(mod._QueryCancelPending, 1, true);
  heap.setInt32(mod._InterruptPending, 1, true);
  // A sleeping backend (pg_sleep, a lock wait) only looks at the flags when its latch is set.
  const latch = heap.getUint32(mod._MyLatch, true);
  if (latch !== 0) heap.setInt32(latch, 1, true);
}

function clearCancel(): void {
  Atomics.store(control, Slot.Cancel, 0);
  new DataView(mod.HEAPU8.buffer).setInt32(mod._QueryCancelPending, 0, true);
}

function takeOutput(): Uint8Array {
  const out = output.slice(0, outputLength);
  outputLength = 0;
  return out;
}

function onWrite(ptr: number, len: number): number {
  if (outputLength + len > output.length) {
    const grown = new Uint8Array(Math.max(output.length * 2, outputLength + len));
    grown.set(output.subarray(0, outputLength));
    output = grown;
  }
  output.set(mod.HEAPU8.subarray(ptr, ptr + len), outputLength);
  outputLength += len;
  if (outputLength >= options.outputChunkBytes) {
    // Wait until the client has taken it, so a large result is never held in memory all at once.
    Atomics.store(control, Slot.OutputTaken, 0);
    post({ type: 'output', bytes: takeOutput() });
    Atomics.wait(control, Slot.OutputTaken, 0);
  }
  return len;
}

function onRead(ptr: number, max: number): number {
  if (inputPos >= input.length) {
    // PostgreSQL is inside a command and wants more input than this call brought: COPY FROM STDIN.
    post({ type: 'need-input', bytes: takeOutput() });
    Atomics.wait(control, Slot.InputState, 0);
    const length = Atomics.load(control, Slot.InputLength);
    input = inputArea.slice(0, length);
    inputPos = 0;
    Atomics.store(control, Slot.InputState, 0);
    if (Atomics.load(control, Slot.Cancel) === 1) raiseCancel();
  }
  const n = Math.min(max, input.length - inputPos);
  mod.HEAPU8.set(input.subarray(inputPos, inputPos + n), ptr);
  inputPos += n;
  return n;
}

function exec(bytes: Uint8Array, cancel: boolean): void {
  input = bytes;
  inputPos = 0;
  dropDueTimers();
  clearCancel();
  inCall = true;
  // Raised at the next clock call rather than now: while PostgreSQL reads the command, it ignores a cancel.
  if (cancel) Atomics.store(control, Slot.Cancel, 1);
  try {
    try {
      while (inputPos < input.length || mod._pq_buffer_remaining_data() > 0) {
        const sp = mod.stackSave();
        try {
          mod._PostgresMainLoopOnce();
        } catch (e) {
          mod.stackRestore(sp);
          if ((e as { status?: unknown }).status !== POSTGRES_MAIN_LONGJMP) throw e;
          mod._PostgresMainLongJmp();
        }
      }
    } finally {
      mod._PostgresSendReadyForQueryIfNecessary();
      mod._pgl_pq_flush();
    }
  } finally {
    inCall = false;
    input = new Uint8Array(0);
  }
  // A cancel that arrived too late for this call must not hit the next session's statement.
  clearCancel();
  post({ type: 'done', bytes: takeOutput() });
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  const status = (e as { status?: unknown })?.status;
  return status !== undefined ? `PostgreSQL exited with status ${String(status)}` : String(e);
}

function startupMessage(parameters: Record<string, string>): Uint8Array {
  const w = new Writer(256);
  encodeStartupMessage(w, {
    type: 'StartupMessage',
    protocolVersion: PROTOCOL_3_0,
    parameters: Object.entries(parameters).map(([name, value]) => ({ name, value })),
  });
  return w.take();
}

function emptyQuery(): Uint8Array {
  const w = new Writer(16);
  encodeQuery(w, { type: 'Query', query: '' });
  return w.take();
}

async function start(): Promise<void> {
  pg = options.dataDir ? await PGlite.create({ dataDir: options.dataDir }) : await PGlite.create();
  mod = (pg as unknown as { Module: PgliteModule }).Module;
  for (const name of ['_pgl_set_rw_cbs', '_PostgresMainLoopOnce', '_PostgresMainLongJmp', '_pq_buffer_remaining_data'] as const) {
    if (typeof mod[name] !== 'function') throw new Error(`this PGlite build lacks ${name}`);
  }
  // PostgreSQL reports changed parameters (ParameterStatus after SET) only once a connection has
  // started; PGlite starts it only for a StartupMessage. The first query after it carries the
  // parameters the startup changed, which nobody needs.
  pg.execProtocolRawSync(startupMessage({ user: 'postgres', database: 'postgres' }));
  pg.execProtocolRawSync(emptyQuery());
  mod._pgl_set_rw_cbs(mod.addFunction(onRead, 'ipi'), mod.addFunction(onWrite, 'ipi'));
  installTimerHooks();
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'close') {
    const finish = (): void => post({ type: 'closed' });
    if (crashed) finish();
    else pg.close().then(finish, finish);
    return;
  }
  if (crashed) {
    post({ type: 'crashed', message: 'PGlite has stopped' });
    return;
  }
  try {
    exec(m.bytes, m.cancel);
  } catch (e) {
    crashed = true;
    post({ type: 'crashed', message: describe(e) });
  }
});

start().then(
  () => post({ type: 'ready' }),
  (e: unknown) => {
    crashed = true;
    post({ type: 'crashed', message: `PGlite failed to start: ${describe(e)}` });
  },
);
