/**
 * What the engine (main thread) and the PGlite worker say to each other.
 *
 * Commands travel by postMessage. Input that PostgreSQL asks for while it is inside a command (the
 * CopyData of a COPY FROM STDIN) travels through a SharedArrayBuffer instead, because the worker is
 * then blocked inside the WASM call and cannot receive messages. The cancel flag lives in the same
 * buffer, so the main thread can raise it while the worker is busy.
 */

/** Int32 slots at the start of the shared buffer. */
export const Slot = {
  /** 0: no input waiting; 1: the main thread has written `InputLength` bytes of input. */
  InputState: 0,
  InputLength: 1,
  /** 1: cancel the statement running now (the effect of a CancelRequest). */
  Cancel: 2,
  /** Set to 1 by the main thread when the client has taken the last 'output' piece (backpressure). */
  OutputTaken: 3,
} as const;

/** Bytes reserved for the Int32 slots; the input area follows. */
export const CONTROL_BYTES = 64;
/** Size of the input area: the most input handed over in one step. */
export const INPUT_AREA_BYTES = 1 << 20;

export interface WorkerOptions {
  /** Where PGlite keeps its files; in memory when absent. */
  readonly dataDir?: string;
  readonly shared: SharedArrayBuffer;
  /** Output is posted in pieces of about this size while a call runs. */
  readonly outputChunkBytes: number;
}

export type ToWorker =
  | { readonly type: 'exec'; readonly bytes: Uint8Array; readonly cancel: boolean }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready' }
  /** Part of the output of the call in progress; the worker waits for `OutputTaken` before going on. */
  | { readonly type: 'output'; readonly bytes: Uint8Array }
  /** PostgreSQL waits for more input (COPY FROM STDIN): the output so far; the call is still in progress. */
  | { readonly type: 'need-input'; readonly bytes: Uint8Array }
  /** The call finished: the rest of its output. */
  | { readonly type: 'done'; readonly bytes: Uint8Array }
  /** PGlite stopped (a FATAL error, WASM trap) or failed to start; the worker can't serve anymore. */
  | { readonly type: 'crashed'; readonly message: string }
  | { readonly type: 'closed' };
