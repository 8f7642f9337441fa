/**
 * Wire protocols register here (the seam Jan Wieck's proposal and Babelfish's protocol
 * extensions describe). A protocol is a set of named hooks, the seams of a PostgreSQL backend:
 * accepting a socket, startup, authentication, the command loop, how errors, notices,
 * ReadyForQuery, parameter status and the cancel key reach the client, and what happens to the
 * input after an error. The generic driver (connection.ts) runs any protocol's hooks in the same
 * order over the services every protocol of a server shares: one engine, one cancel-key table,
 * one session limit and one shutdown. PostgreSQL's protocol 3 registers itself through this same
 * interface (postgres-protocol.ts); a protocol may reuse its hooks and override some.
 *
 * What each hook covers, against Babelfish's ProtocolExtensionConfig callbacks:
 *
 * | Hook | Babelfish |
 * |---|---|
 * | accept | fn_accept, fn_init |
 * | startup | fn_start |
 * | authenticate | fn_authenticate |
 * | commandLoop | fn_mainfunc, fn_read_command |
 * | processCommand | fn_process_command |
 * | send | fn_printtup*, fn_end_command |
 * | reportError, reportNotice | fn_send_message |
 * | readyForQuery | fn_send_ready_for_query |
 * | sendCancelKey | fn_send_cancel_key |
 * | reportParameterStatus | fn_report_param_status |
 * | resetAfterError | fn_comm_reset, fn_is_reading_msg |
 * | close | fn_close |
 */
import type { Socket } from 'node:net';
import type { BackendMessage, ErrorResponse, FrontendMessage, NoticeResponse, ReadyForQuery } from '../../generated/index.js';
import type { Engine, SessionStart } from '../engine.js';
import type { UserTable } from '../auth/index.js';
import type { AnyMessage } from '../protocol/extension.js';
import type { CancelRegistry } from './cancel-registry.js';
import type { Connection } from './connection.js';
import type { SessionSlots } from './session-slots.js';
import type { TlsSettings } from './tls-settings.js';

/** What every protocol of one server shares. */
export interface SharedServices {
  readonly engine: Engine;
  readonly users: UserTable;
  readonly cancels: CancelRegistry;
  readonly tls: TlsSettings | undefined;
  readonly startupTimeoutMs: number;
  /** The server's session limit (maxConnections): take a slot at StartupMessage, give it back at close. */
  readonly sessionSlots?: SessionSlots;
  /** Reports a protocol-state violation by the server side (an engine bug), with the message and state. */
  readonly reportViolation: (report: { protocol: string; state: string; message: string; detail: string }) => void;
}

/** One accepted client of a protocol. */
export interface ProtocolConnection {
  /** Resolves when the connection has closed. */
  readonly done: Promise<void>;
  /** Ends the session for a server shutdown (cancelling what runs). */
  shutdown(): Promise<void>;
}

/** Who asks to log in, as a protocol's startup read it: the engine session is opened with this. */
export type LoginRequest = Omit<SessionStart, 'processId'>;

/** A session's cancel key: what a client quotes in a CancelRequest. */
export interface CancelKey {
  readonly processId: number;
  readonly secretKey: Uint8Array;
}

/** A frontend message that could not be processed normally (its body did not decode), after it was answered. */
export interface FailedInput {
  /** The message's name by its type byte. */
  readonly type: string;
}

/**
 * The hooks of one wire protocol. `W` is the protocol's own side of a connection (its reader,
 * output buffer, state machine...), made by `accept` and handed back as `c.wire`. Every hook
 * receives the connection, whose `hooks` are the ones in effect, so a hook calls the others
 * through `c.hooks` and an override is seen everywhere.
 */
export interface ProtocolHooks<W> {
  /** Takes a freshly accepted socket: sets up the protocol's side of the connection (which may wrap the socket). */
  accept(socket: Socket, services: SharedServices): W;
  /**
   * Reads the start of the conversation (encryption negotiation, the startup packet) up to a
   * login request; undefined when the connection ends here (a cancel request, a refusal the hook
   * has reported).
   */
  startup(c: Connection<W>): Promise<LoginRequest | undefined>;
  /** Authenticates the login; false ends the connection (the hook has reported why). */
  authenticate(c: Connection<W>, login: LoginRequest): Promise<boolean>;
  /** Called once the engine session is open, after the parameters and the cancel key went out. */
  sessionOpened?(c: Connection<W>, start: SessionStart): void;
  /**
   * Reads commands and hands them to the engine (through `c.hooks.processCommand` when set, else
   * `c.execute`) until the client leaves, the connection closes or `c.shuttingDown` is set.
   */
  commandLoop(c: Connection<W>): Promise<void>;
  /** Replaces the dispatch of one command (a run of frontend messages) to the engine. */
  processCommand?(c: Connection<W>, messages: readonly FrontendMessage[]): Promise<void>;
  /** Every backend message without a hook of its own: rows, command completion, copy data, notifications. */
  send(c: Connection<W>, message: BackendMessage | AnyMessage): void;
  /** An error for the client, from the engine or the runtime; a FATAL one is followed by `close`. */
  reportError(c: Connection<W>, error: ErrorResponse): void;
  /** A notice (warning, information) for the client. */
  reportNotice(c: Connection<W>, notice: NoticeResponse): void;
  /** The session is ready for the next command, in this transaction status. */
  readyForQuery(c: Connection<W>, status: ReadyForQuery['status']): void;
  /** Tells the client the key that cancels this session's work. */
  sendCancelKey(c: Connection<W>, key: CancelKey): void;
  /** A session setting the client is told about (at login, and when it changes). */
  reportParameterStatus(c: Connection<W>, name: string, value: string): void;
  /** After input that failed before the engine could run it normally: how reading goes on (e.g. skip to Sync). */
  resetAfterError(c: Connection<W>, failed: FailedInput): void;
  /** A message the engine produced outside any command (a notification, a notice): the protocol decides when it goes out. */
  asyncMessage?(c: Connection<W>, message: BackendMessage): void;
  /** A promise for the client to have room for more output, or undefined when it has room now. */
  drained?(c: Connection<W>): Promise<void> | undefined;
  /** Ends the connection: writes what should still go out and closes the transport. Called once. */
  close(c: Connection<W>): void;
}

/** A registered wire protocol: a name for listeners to refer to, and its hooks. */
export interface WireProtocol<W = unknown> {
  readonly name: string;
  readonly hooks: ProtocolHooks<W>;
}

export class ProtocolRegistry {
  private readonly protocols = new Map<string, WireProtocol>();

  register<W>(protocol: WireProtocol<W>): this {
    if (this.protocols.has(protocol.name)) throw new Error(`a protocol named "${protocol.name}" is already registered`);
    this.protocols.set(protocol.name, protocol as WireProtocol);
    return this;
  }

  get(name: string): WireProtocol {
    const p = this.protocols.get(name);
    if (!p) throw new Error(`no protocol named "${name}" is registered (have: ${[...this.protocols.keys()].join(', ')})`);
    return p;
  }

  get names(): string[] {
    return [...this.protocols.keys()];
  }
}
