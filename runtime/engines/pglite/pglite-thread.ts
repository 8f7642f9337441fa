/**
 * The main thread's handle on the PGlite worker: starts it, runs one call at a time on raw
 * protocol bytes, streams the output back, feeds COPY input while a call waits for it, and raises
 * the cancel flag.
 *
 * A call ends either 'done' (PostgreSQL consumed all its input) or 'need-input' (PostgreSQL is in
 * COPY FROM STDIN and waits for CopyData); after 'need-input' the next step must be `feed()`.
 */
import { Worker } from 'node:worker_threads';
import { CONTROL_BYTES, INPUT_AREA_BYTES, Slot, type FromWorker, type ToWorker, type WorkerOptions } from './worker-protocol.js';

export type CallEnd = 'done' | 'need-input';

export interface ThreadOptions {
  readonly dataDir?: string;
  /** Output is handed over in pieces of about this size while a call runs (default 256 KiB). */
  readonly outputChunkBytes?: number;
  /** Called once if the worker stops for good (FATAL error in PostgreSQL, WASM trap, exit). */
  readonly onCrash?: (message: string) => void;
}

/**
 * Receives output. `more` is true for a piece of a call still running; a promise returned for it
 * holds the worker back until it resolves (backpressure).
 */
export type OutputHandler = (bytes: Uint8Array, more: boolean) => void | Promise<void>;

interface Pending {
  readonly onOutput: OutputHandler;
  readonly resolve: (end: CallEnd) => void;
  readonly reject: (e: Error) => void;
  /** Input not yet handed to the worker (a feed larger than the shared input area). */
  rest: Uint8Array;
}

export class PgliteThread {
  private readonly control: Int32Array;
  private readonly inputArea: Uint8Array;
  private pending: Pending | undefined;
  private waitingForInput = false;
  private crashedWith: string | undefined;
  private closing: Promise<void> | undefined;
  private closedResolve: (() => void) | undefined;

  private constructor(
    private readonly worker: Worker,
    shared: SharedArrayBuffer,
    private readonly onCrash: ((message: string) => void) | undefined,
  ) {
    this.control = new Int32Array(shared, 0, CONTROL_BYTES / 4);
    this.inputArea = new Uint8Array(shared, CONTROL_BYTES);
  }

  /** Starts the worker and waits until PGlite is ready (several seconds: the WASM and initdb). */
  static async start(options: ThreadOptions = {}): Promise<PgliteThread> {
    const shared = new SharedArrayBuffer(CONTROL_BYTES + INPUT_AREA_BYTES);
    const workerOptions: WorkerOptions = {
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      shared,
      outputChunkBytes: options.outputChunkBytes ?? 256 * 1024,
    };
    const worker = startWorker(workerOptions);
    const thread = new PgliteThread(worker, shared, options.onCrash);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'ready') {
          worker.off('error', reject);
          resolve();
        } else if (m.type === 'crashed') {
          reject(new Error(m.message));
          void worker.terminate();
        }
      };
      worker.once('message', onMessage);
      worker.once('error', reject);
    });
    worker.on('message', (m: FromWorker) => thread.onMessage(m));
    worker.on('error', (e) => thread.crash(`PGlite worker failed: ${e.message}`));
    worker.on('exit', (code) => {
      if (thread.closedResolve) thread.closedResolve();
      else thread.crash(`PGlite worker exited with code ${code}`);
    });
    return thread;
  }

  get crashed(): string | undefined {
    return this.crashedWith;
  }

  /** Runs protocol bytes. `cancel` raises the cancel flag as the call starts (a cancel that arrived while queued). */
  run(bytes: Uint8Array, onOutput: OutputHandler, cancel = false): Promise<CallEnd> {
    if (this.waitingForInput) return Promise.reject(new Error('PGlite waits for COPY data: feed() it'));
    return this.begin(onOutput, new Uint8Array(0), () => this.send({ type: 'exec', bytes, cancel }));
  }

  /** Hands more input to a call that ended 'need-input'. */
  feed(bytes: Uint8Array, onOutput: OutputHandler): Promise<CallEnd> {
    if (!this.waitingForInput) return Promise.reject(new Error('PGlite is not waiting for input'));
    this.waitingForInput = false;
    return this.begin(onOutput, bytes, () => this.handOver(this.pending!));
  }

  /** Raises the cancel flag; the statement running now fails with 57014 at its next interrupt check. */
  cancel(): void {
    Atomics.store(this.control, Slot.Cancel, 1);
  }

  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      this.closedResolve = resolve;
      if (this.crashedWith !== undefined || this.waitingForInput) {
        void this.worker.terminate();
        return;
      }
      const timer = setTimeout(() => void this.worker.terminate(), 10_000);
      this.worker.once('message', (m: FromWorker) => {
        if (m.type !== 'closed') return;
        clearTimeout(timer);
        void this.worker.terminate();
      });
      this.send({ type: 'close' });
    });
    return this.closing;
  }

  private begin(onOutput: OutputHandler, rest: Uint8Array, start: () => void): Promise<CallEnd> {
    if (this.crashedWith !== undefined) return Promise.reject(new Error(this.crashedWith));
    if (this.closing) return Promise.reject(new Error('PGlite is closed'));
    if (this.pending) return Promise.reject(new Error('a PGlite call is already running'));
    return new Promise<CallEnd>((resolve, reject) => {
      this.pending = { onOutput, resolve, reject, rest };
      start();
    });
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  /** Writes the next piece of pending input into the shared area and wakes the worker. */
  private handOver(p: Pending): void {
    const n = Math.min(p.rest.length, INPUT_AREA_BYTES);
    this.inputArea.set(p.rest.subarray(0, n));
    p.rest = p.rest.subarray(n);
    Atomics.store(this.control, Slot.InputLength, n);
    Atomics.store(this.control, Slot.InputState, 1);
    Atomics.notify(this.control, Slot.InputState);
  }

  private onMessage(m: FromWorker): void {
    const p = this.pending;
    switch (m.type) {
      case 'output': {
        const taken = p?.onOutput(m.bytes, true);
        if (taken) void taken.then(() => this.outputTaken(), () => this.outputTaken());
        else this.outputTaken();
        return;
      }
      case 'need-input':
        if (!p) return;
        if (m.bytes.length > 0) void p.onOutput(m.bytes, false);
        if (p.rest.length > 0) {
          this.handOver(p);
          return;
        }
        this.pending = undefined;
        this.waitingForInput = true;
        p.resolve('need-input');
        return;
      case 'done':
        if (!p) return;
        this.pending = undefined;
        if (m.bytes.length > 0) void p.onOutput(m.bytes, false);
        p.resolve('done');
        return;
      case 'crashed':
        this.crash(m.message);
        return;
      default:
        return;
    }
  }

  private outputTaken(): void {
    Atomics.store(this.control, Slot.OutputTaken, 1);
    Atomics.notify(this.control, Slot.OutputTaken);
  }

  private crash(message: string): void {
    if (this.crashedWith !== undefined || this.closedResolve) return;
    this.crashedWith = message;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new Error(message));
    this.onCrash?.(message);
    void this.worker.terminate();
  }
}

/**
 * Starts the worker script next to this file. Built, it is JavaScript; run from source (tsx,
 * vitest), it is TypeScript, and the worker first registers tsx's loader in its own thread.
 */
function startWorker(workerData: WorkerOptions): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./pglite-worker.js', import.meta.url), { workerData });
  const entry = new URL('./pglite-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
