/**
 * One client connection of any registered protocol, driven through the protocol's hooks in the
 * order a PostgreSQL backend goes: accept → startup → (session slot) → authenticate → open the
 * engine session → parameter status → cancel key → ready for query → command loop → close. What
 * is the same for every protocol lives here: the startup timeout, the session limit, cancel-key
 * registration, the engine session and its events, shutdown, and the routing of engine output
 * (errors, notices, ReadyForQuery, parameter status and cancel keys each go through their hook).
 */
import type { Socket } from 'node:net';
import type { BackendKeyData, BackendMessage, ErrorResponse, FrontendMessage, NoticeResponse, ParameterStatus, ReadyForQuery } from '../../generated/index.js';
import { EngineError, type BackendSink, type CopyInterruption, type EngineSession, type MalformedMessage, type SessionStart } from '../engine.js';
import { errorResponse, stateError, type ErrorInfo } from '../protocol/error-fields.js';
import type { AnyMessage } from '../protocol/extension.js';
import type { LoginRequest, ProtocolConnection, ProtocolHooks, SharedServices, WireProtocol } from './protocol-registry.js';
import { TOO_MANY_CONNECTIONS } from './session-slots.js';

/** How long a shutdown waits for a session to end before dropping its socket. */
const SHUTDOWN_GRACE_MS = 2000;

/** A settled promise for calls with nothing to wait for. */
const DONE: Promise<void> = Promise.resolve();

/** PostgreSQL's answer to a session ended by a server shutdown. */
const ADMIN_SHUTDOWN = stateError('administratorShutdown');

export class Connection<W = unknown> implements ProtocolConnection {
  /** The hooks in effect: a hook calls the others through here, so overrides are seen everywhere. */
  readonly hooks: ProtocolHooks<W>;
  /** The protocol's own side of the connection, made by its `accept` hook. */
  readonly wire: W;
  /** The engine's session, from login until the connection closes. */
  session: EngineSession | undefined;
  /** The session's settings as last reported to the client (ParameterStatus), e.g. client_encoding. */
  readonly parameters = new Map<string, string>();
  /** A shutdown asked the session to end: the command loop returns at its next chance. */
  shuttingDown = false;
  /** The engine is running a command for this connection. */
  executing = false;
  /** `close` has run. */
  closed = false;
  /**
   * Where the engine writes: ErrorResponse, NoticeResponse, ReadyForQuery, ParameterStatus and
   * BackendKeyData each go through their hook; everything else through `send`.
   */
  readonly sink: BackendSink;
  /** Resolves when the connection has closed. */
  readonly done: Promise<void>;
  private processId = 0;

  constructor(
    readonly protocol: WireProtocol<W>,
    /** The socket as accepted (before any TLS): dropping it ends the connection whatever its layers. */
    private readonly accepted: Socket,
    readonly services: SharedServices,
  ) {
    this.hooks = protocol.hooks;
    this.wire = this.hooks.accept(accepted, services);
    this.sink = routedSink(this);
    this.done = this.run();
  }

  /** The socket the client is on now: the protocol's, when its wire has one (a TLS socket over the accepted one). */
  get socket(): Socket {
    return (this.wire as { readonly socket?: Socket }).socket ?? this.accepted;
  }

  /** For diagnostics: the protocol's input buffer, when its wire has a decoder (bytes received and not yet processed). */
  get decoder(): { readonly buffered: number } | undefined {
    return (this.wire as { readonly decoder?: { readonly buffered: number } }).decoder;
  }

  /** Runs a command (a run of frontend messages) in the engine, its output going through the hooks. */
  execute(messages: readonly FrontendMessage[]): Promise<void> {
    const session = this.session;
    return session === undefined ? DONE : this.running(session.execute(messages, this.sink));
  }

  /**
   * Has the engine answer a well-framed message whose body did not decode, as PostgreSQL does;
   * false when the engine cannot (it has no `malformed`), and the caller ends the session.
   */
  async malformed(message: MalformedMessage): Promise<boolean> {
    const session = this.session;
    if (session?.malformed === undefined) return false;
    await this.running(session.malformed(message, this.sink));
    return true;
  }

  /** Has the engine fail the COPY FROM STDIN a client message interrupted (a CopyFail with its text, for an engine that cannot say more). */
  copyInterrupted(interruption: CopyInterruption): Promise<void> {
    const session = this.session;
    if (session === undefined) return DONE;
    if (session.copyInterrupted === undefined) return this.execute([{ type: 'CopyFail', message: interruption.error.message }]);
    return this.running(session.copyInterrupted(interruption, this.sink));
  }

  /**
   * Engine work for the client, from the call that started it until it settles: a cancel or a
   * shutdown meanwhile goes to the engine. (Plain promise callbacks, not an async wrapper: this is
   * on the path of every command.)
   */
  private running(work: Promise<void>): Promise<void> {
    this.executing = true;
    return work.then(this.finishedWork, this.failedWork);
  }

  private readonly finishedWork = (): void => {
    this.executing = false;
  };

  private readonly failedWork = (err: unknown): never => {
    this.executing = false;
    throw err;
  };

  /** Reports a FATAL error and closes: the end of a session, decided by the runtime. */
  fail(info: ErrorInfo): void {
    if (this.closed) return;
    this.hooks.reportError(this, errorResponse(info));
    this.close();
  }

  /** Closes the connection (once): the protocol writes what should still go out and ends the transport. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hooks.close(this);
  }

  /** Ends the session as an administrator shutdown would: in-flight work is cancelled first. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    // A running command is cancelled; the command loop then returns and the session ends below.
    if (this.executing) this.session?.cancel();
    else this.fail(ADMIN_SHUTDOWN);
    // A client that stopped reading would keep the connection waiting for its socket to drain forever.
    const force = setTimeout(() => this.accepted.destroy(), SHUTDOWN_GRACE_MS);
    try {
      await this.done;
    } finally {
      clearTimeout(force);
    }
  }

  private async run(): Promise<void> {
    const { sessionSlots, cancels } = this.services;
    const timer = setTimeout(() => {
      if (this.session === undefined) this.close();
    }, this.services.startupTimeoutMs);
    let holdsSlot = false;
    try {
      const login = await this.hooks.startup(this);
      if (login === undefined || this.closed) return;
      // As PostgreSQL: a full server says so after the startup packet, before any authentication.
      if (sessionSlots) {
        if (!sessionSlots.acquire()) return this.fail(TOO_MANY_CONNECTIONS);
        holdsSlot = true;
      }
      if (!(await this.hooks.authenticate(this, login)) || this.closed) return;
      await this.open(login);
      clearTimeout(timer);
      await this.hooks.commandLoop(this);
      if (this.shuttingDown) this.fail(ADMIN_SHUTDOWN);
    } catch (err) {
      this.fail(
        err instanceof EngineError
          ? { severity: 'FATAL', code: err.sqlstate, message: err.message }
          : { severity: 'FATAL', code: 'XX000', message: `internal error: ${(err as Error).message}` },
      );
    } finally {
      clearTimeout(timer);
      if (this.processId) cancels.unregister(this.processId);
      if (holdsSlot) sessionSlots?.release();
      const s = this.session;
      this.session = undefined;
      if (s) await s.close().catch(() => undefined);
      this.close();
    }
  }

  /** Opens the engine session and tells the client what it needs before its first command. */
  private async open(login: LoginRequest): Promise<void> {
    const key = this.services.cancels.register(login.protocolVersion, { cancel: () => this.session?.cancel() });
    this.processId = key.processId;
    const start: SessionStart = { ...login, processId: key.processId };
    this.session = await this.services.engine.openSession(start, {
      asyncMessage: (m) => (this.hooks.asyncMessage ? this.hooks.asyncMessage(this, m) : this.sink.send(m)),
      fatal: (err) => this.fail({ severity: 'FATAL', code: err.sqlstate, message: err.message }),
    });
    if (this.closed) return; // a shutdown or the startup timeout came first
    for (const [name, value] of this.session.parameterStatus) this.sink.send({ type: 'ParameterStatus', name, value });
    this.hooks.sendCancelKey(this, key);
    this.hooks.sessionOpened?.(this, start);
    this.hooks.readyForQuery(this, 'I');
  }
}

/** The engine's sink for a connection: the messages a protocol reports its own way go through their hooks. */
function routedSink<W>(c: Connection<W>): BackendSink {
  const hooks = c.hooks;
  return {
    send(m: BackendMessage | AnyMessage): void {
      switch (m.type) {
        case 'ErrorResponse':
          return hooks.reportError(c, m as ErrorResponse);
        case 'NoticeResponse':
          return hooks.reportNotice(c, m as NoticeResponse);
        case 'ReadyForQuery':
          return hooks.readyForQuery(c, (m as ReadyForQuery).status);
        case 'ParameterStatus': {
          const { name, value } = m as ParameterStatus;
          c.parameters.set(name, value);
          return hooks.reportParameterStatus(c, name, value);
        }
        case 'BackendKeyData': {
          const { processId, secretKey } = m as BackendKeyData;
          return hooks.sendCancelKey(c, { processId, secretKey });
        }
        default:
          return hooks.send(c, m);
      }
    },
    drained: () => hooks.drained?.(c),
  };
}
