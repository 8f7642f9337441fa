/**
 * The seam between the protocol runtime and whatever executes SQL.
 *
 * The runtime owns the wire: framing, TLS, authentication, the state machine, output batching,
 * cancel keys. An engine receives, per client session, the frontend messages the state machine has
 * accepted, in order, and answers with backend messages. Engines: embedded PGlite (the default),
 * a proxy to an upstream server, and user handlers.
 */
import type { BackendMessage, FrontendMessage } from '../generated/index.js';

/** What the runtime knows about a client session when it hands it to an engine. */
export interface SessionStart {
  /** The authenticated user. */
  readonly user: string;
  /** The database named in the StartupMessage (defaults to the user). */
  readonly database: string;
  /** Every other StartupMessage parameter (GUCs such as application_name, client_encoding, options). */
  readonly parameters: Readonly<Record<string, string>>;
  /** The negotiated protocol version as a full code (major << 16 | minor). */
  readonly protocolVersion: number;
  /** The process id the runtime reports in BackendKeyData for this session. */
  readonly processId: number;
  /** The `_pq_.` extension options the client sent that a registered extension claimed, with their values. */
  readonly options?: Readonly<Record<string, string>>;
}

/** Where an engine writes backend messages; the runtime batches them per Flush/Sync/end of Query. */
export interface BackendSink {
  /** A base-protocol message, or one of an extension the session's protocol registered. */
  send(message: BackendMessage | { readonly type: string }): void;
  /**
   * A promise that resolves when the client's socket has room again, or undefined when it has
   * room now: an engine awaits it (when given) between messages or rows, so that a client that
   * does not read bounds the server's memory without costing anything when it does.
   */
  drained?(): Promise<void> | undefined;
}

export interface Engine {
  /** A short name for logs and the CLI banner ("pglite", "proxy", "handlers"). */
  readonly name: string;
  /** Opens the engine side of one authenticated client session. */
  openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession>;
  /** Stops the engine: in-flight work is finished or cancelled, resources released. */
  close(): Promise<void>;
}

/** Messages an engine produces outside any request (NOTIFY to an idle session, a NOTICE, a changed parameter). */
export interface SessionEvents {
  /** Deliver an asynchronous backend message to this session's client as soon as it is idle. */
  asyncMessage(message: BackendMessage): void;
  /** The engine lost this session (upstream died, engine crashed): the runtime reports `error` and closes. */
  fatal(error: EngineError): void;
}

export interface EngineSession {
  /** ParameterStatus pairs to report after authentication, in the order to send them. */
  readonly parameterStatus: ReadonlyArray<readonly [name: string, value: string]>;
  /**
   * Processes frontend messages in order and writes every backend message they produce to `out`,
   * including ReadyForQuery after a Query, FunctionCall or Sync. The runtime only passes messages
   * the current protocol state accepts; a run ends at a Sync, Flush, Query, FunctionCall,
   * CopyDone or CopyFail, or where the client's buffered input ends.
   */
  execute(messages: readonly FrontendMessage[], out: BackendSink): Promise<void>;
  /**
   * Answers a well-framed frontend message whose body could not be decoded (an index past the
   * end, a string without its zero, text that is not UTF-8...), as PostgreSQL does: an
   * ErrorResponse with `error`'s SQLSTATE (08P01, 22021), the transaction block failed if one is
   * open, then ReadyForQuery if the message was a Query, FunctionCall or Sync; after an extended-query
   * message the runtime skips to the next Sync. An engine without this method ends the session
   * with a FATAL instead.
   */
  malformed?(message: MalformedMessage, out: BackendSink): Promise<void>;
  /**
   * The client sent a message PostgreSQL does not take during COPY FROM STDIN (a Query, a
   * Parse...): the COPY fails with `interruption.error`, reported with what only the engine knows
   * (PostgreSQL's "COPY t, line 2" context), and no ReadyForQuery follows; the runtime then ends
   * the session with the FATAL the spec has. An engine without this method is handed a CopyFail
   * carrying the error's text instead.
   */
  copyInterrupted?(interruption: CopyInterruption, out: BackendSink): Promise<void>;
  /** Cancels the statement this session is running, if any (the effect of a CancelRequest). */
  cancel(): void;
  /** The client is gone (Terminate or disconnect): roll back what is open and release the session. */
  close(): Promise<void>;
}

/** A frontend message whose framing is sound but whose body is not. */
export interface MalformedMessage {
  /** What the message is by its type byte ('Query', 'Bind'...). */
  readonly type: FrontendMessage['type'];
  /** The whole message as the client sent it: type byte, length, body. */
  readonly frame: Uint8Array;
  /** Why it could not be decoded, in PostgreSQL's words where PostgreSQL has them. */
  readonly error: { readonly code: string; readonly message: string };
}

/** A message that interrupted COPY FROM STDIN (see EngineSession.copyInterrupted). */
export interface CopyInterruption {
  /** What the message is by its type byte; a byte several messages share names the first. */
  readonly type: FrontendMessage['type'];
  /** Its type byte, all PostgreSQL reads of it. */
  readonly byte: number;
  /** The error PostgreSQL reports for it: the spec's `unexpectedDuringCopyIn`, filled in. */
  readonly error: { readonly code: string; readonly message: string };
}

/** An engine failure that ends a session, reported to the client with this SQLSTATE (57P01, 08006...). */
export class EngineError extends Error {
  constructor(
    readonly sqlstate: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineError';
  }
}
