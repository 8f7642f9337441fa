/**
 * One client connection, driven by the generated state machine: a single sequential loop reads a
 * message in the framing and context the current state gives, asks the state machine what to do
 * with it, and hands runs of accepted messages to the engine. Startup, TLS and authentication
 * happen here; SQL happens in the engine.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import {
  DIRECT_TLS_ALPN,
  DIRECT_TLS_FIRST_BYTE,
  MESSAGES,
  PROTOCOL_3_0,
  STATE_MACHINE,
  type BackendMessage,
  type FrontendMessage,
  type StartupMessage,
} from '../../generated/index.js';
import { ProtocolDecodeError, StreamDecoder } from '../wire/index.js';
import { StateMachine, type StateViolation, type Verdict } from '../protocol/state-machine.js';
import { errorResponse, type ErrorInfo } from '../protocol/error-fields.js';
import { unexpectedTypeError } from '../protocol/unexpected-type.js';
import type { AnyMessage, ProtocolCodecs } from '../protocol/extension.js';
import type { UserTable } from '../auth/index.js';
import { EngineError, type BackendSink, type Engine, type EngineSession } from '../engine.js';
import { authenticate } from './authenticate.js';
import type { CancelRegistry } from './cancel-registry.js';
import { negotiateStartup } from './negotiate.js';
import { TOO_MANY_CONNECTIONS, type SessionSlots } from './session-slots.js';
import { Output } from './output.js';

export interface TlsSettings {
  readonly secureContext: SecureContext;
  /** tls-server-end-point hash of the certificate, when channel binding is possible. */
  readonly channelBinding: Buffer | undefined;
}

/** What a connection needs from its server and protocol. */
export interface ConnectionContext {
  readonly codecs: ProtocolCodecs;
  readonly engine: Engine;
  readonly users: UserTable;
  readonly cancels: CancelRegistry;
  readonly tls: TlsSettings | undefined;
  /** `_pq_.` options some registered extension handles. */
  readonly claimableOptions: ReadonlySet<string>;
  readonly startupTimeoutMs: number;
  /** The server's session limit, if any. */
  readonly sessionSlots?: SessionSlots;
  /** Called when a backend message breaks the state machine (an engine bug); the message is still sent. */
  readonly onViolation: (violation: StateViolation, message: AnyMessage) => void;
  /** Called with the session's claimed options after login, so a protocol can enable its extras. */
  readonly onSessionStart?: (conn: ServerConnection, claimedOptions: Readonly<Record<string, string>>) => void;
}

/** Input held beyond this while a complete message waits to be processed pauses the socket. */
const INPUT_HIGH_WATER = 1024 * 1024;
/** Largest run of messages handed to the engine at once. */
const MAX_RUN = 1000;
/** How long a shutdown waits for a session to end before dropping its socket. */
const SHUTDOWN_GRACE_MS = 2000;

export class ServerConnection {
  private socket: Socket;
  private readonly decoder: StreamDecoder<FrontendMessage>;
  readonly fsm: StateMachine;
  private readonly out: Output;
  private wake: (() => void) | undefined;
  private ended = false;
  private stashed: FrontendMessage | undefined;
  private session: EngineSession | undefined;
  private processId = 0;
  private executing = false;
  private readonly asyncQueue: BackendMessage[] = [];
  private shuttingDown = false;
  private holdsSlot = false;
  protocolVersion = PROTOCOL_3_0;
  /** Resolves when the connection has closed. */
  readonly done: Promise<void>;

  constructor(
    socket: Socket,
    private readonly cx: ConnectionContext,
  ) {
    this.socket = socket;
    this.fsm = new StateMachine(cx.codecs.stateTables);
    this.decoder = new StreamDecoder(cx.codecs.frontendTable, { framing: 'startup' });
    this.out = new Output(socket, this.fsm, cx.codecs, cx.onViolation);
    this.attach(socket);
    this.done = this.run();
  }

  /** Sends a backend message of an extension or the base protocol (e.g. from an executor hook). */
  send(m: BackendMessage | AnyMessage): void {
    this.out.send(m);
  }

  /** Ends the session as an administrator shutdown would: in-flight work is cancelled first. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.executing) this.session?.cancel();
    else if (!this.fsm.closed) this.fatal({ severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' });
    this.wakeUp();
    // A client that stopped reading would keep the loop waiting for its socket to drain forever.
    const force = setTimeout(() => this.socket.destroy(), SHUTDOWN_GRACE_MS);
    try {
      await this.done;
    } finally {
      clearTimeout(force);
    }
  }

  // ---- transport ----------------------------------------------------------------------------------

  private attach(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      // Stop reading while enough input waits: whether the engine is busy or the loop waits for
      // the client to drain our output, a client that sends without reading cannot grow our buffers.
      if (this.decoder.buffered > INPUT_HIGH_WATER) socket.pause();
      this.wakeUp();
    });
    socket.on('end', () => this.markEnded());
    socket.on('close', () => this.markEnded());
    socket.on('error', () => this.markEnded());
  }

  private detach(socket: Socket): void {
    socket.removeAllListeners('data');
    socket.removeAllListeners('end');
    socket.removeAllListeners('close');
    socket.removeAllListeners('error');
    socket.on('error', () => this.markEnded());
  }

  private markEnded(): void {
    this.ended = true;
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async waitForInput(): Promise<void> {
    if (this.ended) return;
    if (this.socket.isPaused()) this.socket.resume();
    await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** The next frontend message, decoded as the current state says; undefined at end of input. */
  private async read(): Promise<FrontendMessage | undefined> {
    if (this.stashed) {
      const m = this.stashed;
      this.stashed = undefined;
      return m;
    }
    for (;;) {
      // A peer that is gone can receive no answer: what it left buffered is not run.
      if (this.ended && !this.socket.writable) return undefined;
      const refused = this.refusedByTypeByte();
      if (refused !== undefined) {
        this.reject(refused);
        return undefined;
      }
      const m = this.decodeBuffered();
      if (m !== undefined) return m;
      if (this.ended || this.shuttingDown) return undefined;
      await this.waitForInput();
    }
  }

  /**
   * Before login PostgreSQL judges a message by its type byte, before reading its body: a
   * message out of turn is refused at once, whatever length it claims, so no client can make
   * the server buffer a body before it has authenticated.
   */
  private refusedByTypeByte(): Extract<Verdict, { action: 'reject' }> | undefined {
    const info = this.fsm.info;
    if (info.phase !== 'authentication' || info.speaker !== 'frontend' || info.framing !== 'typed') return undefined;
    const byte = this.decoder.peek();
    if (byte === undefined || info.contextual[String.fromCharCode(byte)] !== undefined) return undefined;
    const name = this.cx.codecs.frontendTable.typed[byte]?.name;
    // Unknown bytes are refused by the decoder itself; a contextual byte with no meaning here too.
    if (name === undefined || name.includes('|') || info.recv[name]?.action === 'accept') return undefined;
    const v = this.fsm.received(name, { byte });
    return v.action === 'reject' ? v : undefined;
  }

  private decodeBuffered(): FrontendMessage | undefined {
    const info = this.fsm.info;
    this.decoder.framing = info.framing;
    this.decoder.context = { protocolVersion: this.protocolVersion, contextual: info.contextual };
    return this.decoder.next();
  }

  private async upgradeTls(tls: TlsSettings, prefix: Uint8Array | undefined): Promise<boolean> {
    const raw = this.socket;
    this.detach(raw);
    let transport: Duplex = raw;
    if (prefix !== undefined) {
      // Direct TLS: the ClientHello was already read; replay it through a stream the TLS layer reads.
      const bridge = new Duplex({
        read: () => raw.resume(),
        write: (chunk, _enc, cb) => raw.write(chunk, cb),
        final: (cb) => raw.end(cb),
      });
      bridge.push(prefix);
      raw.on('data', (d: Buffer) => {
        if (!bridge.push(d)) raw.pause();
      });
      raw.on('end', () => bridge.push(null));
      raw.on('close', () => bridge.destroy());
      transport = bridge;
    }
    const secure = new TLSSocket(transport as Socket, {
      isServer: true,
      secureContext: tls.secureContext,
      ...(prefix !== undefined ? { ALPNProtocols: [DIRECT_TLS_ALPN] } : {}),
    });
    const ok = await new Promise<boolean>((resolve) => {
      secure.once('secure', () => resolve(true));
      secure.once('error', () => resolve(false));
      secure.once('close', () => resolve(false));
    });
    if (!ok) {
      raw.destroy();
      this.ended = true;
      return false;
    }
    this.socket = secure as unknown as Socket;
    this.out.socket = this.socket;
    this.attach(this.socket);
    if (prefix !== undefined && secure.alpnProtocol !== DIRECT_TLS_ALPN) {
      this.fatal({ severity: 'FATAL', code: '08P01', message: 'received direct SSL connection request without ALPN protocol negotiation extension' });
      return false;
    }
    return true;
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  private async run(): Promise<void> {
    const timer = setTimeout(() => {
      if (this.session === undefined) this.close();
    }, this.cx.startupTimeoutMs);
    try {
      if (await this.startup()) {
        clearTimeout(timer);
        await this.commandLoop();
      }
    } catch (err) {
      if (err instanceof ProtocolDecodeError && (err.code === 'invalid-length' || err.code === 'too-long') && this.fsm.info.phase !== 'authentication') {
        // A length that cannot be right: PostgreSQL only logs it and closes, sending nothing.
      } else if (err instanceof ProtocolDecodeError) {
        this.fatal(unexpectedTypeError(err, this.fsm) ?? { severity: 'FATAL', code: err.sqlstate, message: err.message });
      } else if (err instanceof EngineError) {
        this.fatal({ severity: 'FATAL', code: err.sqlstate, message: err.message });
      } else {
        this.fatal({ severity: 'FATAL', code: 'XX000', message: `internal error: ${(err as Error).message}` });
      }
    } finally {
      clearTimeout(timer);
      if (this.processId) this.cx.cancels.unregister(this.processId);
      if (this.holdsSlot) this.cx.sessionSlots?.release();
      this.holdsSlot = false;
      const s = this.session;
      this.session = undefined;
      if (s) await s.close().catch(() => undefined);
      this.close();
    }
  }

  private close(): void {
    this.out.flush();
    if (!this.fsm.closed) this.fsm.force(STATE_MACHINE.final);
    this.socket.end();
    this.socket.destroySoon?.();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.ended = true;
    this.wakeUp();
  }

  /** Sends a FATAL (or ERROR) and flushes. */
  private fatal(info: ErrorInfo): void {
    if (this.socket.destroyed) return;
    this.out.send(errorResponse(info));
    this.out.flush();
  }

  private reject(v: Extract<Verdict, { action: 'reject' }>): void {
    this.out.send(errorResponse({ severity: v.severity, code: v.sqlstate, message: v.message }));
    if (v.followedBy) this.out.send(errorResponse({ severity: v.followedBy.severity, code: v.followedBy.sqlstate, message: v.followedBy.message }));
    this.out.flush();
  }

  // ---- startup ------------------------------------------------------------------------------------

  /** Runs the startup phase; true when the session is ready for queries. */
  private async startup(): Promise<boolean> {
    for (;;) {
      if (this.fsm.info.directTls && this.cx.tls && this.decoder.buffered === 0) {
        while (this.decoder.buffered === 0 && !this.ended) await this.waitForInput();
      }
      if (this.fsm.info.directTls && this.cx.tls && this.decoder.buffered > 0) {
        const first = this.decoder.drain();
        if (first[0] === DIRECT_TLS_FIRST_BYTE) {
          this.fsm.force(this.fsm.info.directTls);
          if (!(await this.upgradeTls(this.cx.tls, first))) return false;
          continue;
        }
        this.decoder.push(first);
      }
      const m = await this.read();
      if (m === undefined) return false;
      const v = this.fsm.received(m.type, { protocolCode: MESSAGES[m.type]?.code ?? (m.type === 'StartupMessage' ? m.protocolVersion : undefined) });
      if (v.action === 'reject') {
        this.reject(v);
        return false;
      }
      switch (m.type) {
        case 'SSLRequest':
          if (this.cx.tls) {
            this.out.send({ type: 'SSLAccepted' });
            this.out.flush();
            // Bytes that came before the handshake were not protected. As PostgreSQL does, finish
            // the handshake first so the client can read why it is refused, then refuse them.
            const backlog = this.fsm.info.refusesPlaintextBacklog && this.decoder.drain().length > 0;
            if (!(await this.upgradeTls(this.cx.tls, undefined))) return false;
            if (backlog) {
              const e = STATE_MACHINE.errors.plaintextAfterEncryptionRequest;
              this.fatal({ severity: e.severity, code: e.sqlstate, message: e.message });
              return false;
            }
          } else {
            this.out.send({ type: 'SSLRejected' });
            this.out.flush();
          }
          break;
        case 'GSSENCRequest':
          this.out.send({ type: 'GSSENCRejected' });
          this.out.flush();
          break;
        case 'CancelRequest':
          this.cx.cancels.cancel(m.processId, m.secretKey);
          return false;
        case 'StartupMessage':
          return this.login(m);
        default:
          return false;
      }
    }
  }

  private async login(m: StartupMessage): Promise<boolean> {
    const negotiated = negotiateStartup(m, this.cx.claimableOptions);
    if ('error' in negotiated) {
      this.fatal(negotiated.error);
      return false;
    }
    const req = negotiated.ok;
    this.protocolVersion = req.protocolVersion;
    if (req.negotiate) this.out.send(req.negotiate);
    // As PostgreSQL: a full server says so after the startup packet, before any authentication.
    if (this.cx.sessionSlots) {
      if (!this.cx.sessionSlots.acquire()) {
        this.fatal(TOO_MANY_CONNECTIONS);
        return false;
      }
      this.holdsSlot = true;
    }
    const outcome = await authenticate(req.user, this.cx.users, {
      send: (msg) => this.out.send(msg),
      read: async () => {
        this.out.flush();
        const msg = await this.read();
        if (msg !== undefined) {
          const v = this.fsm.received(msg.type, { byte: MESSAGES[msg.type]?.typeByte?.charCodeAt(0) });
          if (v.action === 'reject') {
            this.reject(v);
            return undefined;
          }
        }
        return msg;
      },
      channelBinding: this.socket instanceof TLSSocket ? this.cx.tls?.channelBinding : undefined,
    });
    if (!outcome.ok) {
      if (!this.fsm.closed) this.fatal(outcome.error);
      return false;
    }
    this.out.send({ type: 'AuthenticationOk' });
    const { processId, secretKey } = this.cx.cancels.register(this.protocolVersion, { cancel: () => this.session?.cancel() });
    this.processId = processId;
    this.session = await this.cx.engine.openSession(
      { user: req.user, database: req.database, parameters: req.parameters, protocolVersion: this.protocolVersion, processId, options: req.claimedOptions },
      {
        asyncMessage: (msg) => this.deliverAsync(msg),
        fatal: (err) => {
          this.fatal({ severity: 'FATAL', code: err.sqlstate, message: err.message });
          this.close();
        },
      },
    );
    for (const [name, value] of this.session.parameterStatus) this.out.send({ type: 'ParameterStatus', name, value });
    this.out.send({ type: 'BackendKeyData', processId, secretKey });
    this.cx.onSessionStart?.(this, req.claimedOptions);
    this.out.send({ type: 'ReadyForQuery', status: 'I' });
    this.out.flush();
    return true;
  }

  // ---- commands -----------------------------------------------------------------------------------

  private readonly sink: BackendSink = {
    send: (m) => this.out.send(m),
    // Output is flushed at the spec's flush points and past a high-water mark; this only waits
    // for a full socket to drain, so awaiting it often costs nothing and keeps batching.
    drained: () => this.out.drained(),
  };

  private async commandLoop(): Promise<void> {
    const session = this.session!;
    for (;;) {
      await this.out.drained();
      this.flushAsync();
      if (this.shuttingDown) {
        this.fatal({ severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' });
        return;
      }
      const m = await this.read();
      if (m === undefined) return;
      const v = this.fsm.received(m.type, { byte: MESSAGES[m.type]?.typeByte?.charCodeAt(0) });
      if (v.action === 'ignore') continue;
      if (m.type === 'Terminate') return;
      let run: FrontendMessage[];
      if (v.action === 'reject') {
        if (v.closes) {
          this.reject(v);
          return;
        }
        // (A reject that does not close leaves the failed operation to the engine.)
        // A non-fatal rejection fails the operation in progress (a COPY): the engine reports it.
        run = [{ type: 'CopyFail', message: v.message }];
      } else {
        run = [m];
        if (this.fsm.frontendSpeaks && !MESSAGES[m.type]?.flushesOutput) this.extendRun(run);
      }
      this.executing = true;
      try {
        await session.execute(run, this.sink);
      } finally {
        this.executing = false;
      }
      const last = run[run.length - 1]!;
      // As PostgreSQL: output goes out at a Flush, at the end of a cycle (the spec's flush points),
      // or when the server waits for the client (copy-in); not merely because input ran dry.
      if (MESSAGES[last.type]?.flushesOutput || !this.fsm.frontendSpeaks || this.fsm.info.phase === 'copy') this.out.flush();
      if (this.socket.isPaused() && this.decoder.buffered < INPUT_HIGH_WATER) this.socket.resume();
    }
  }

  /** Adds the already-buffered messages that continue this run, up to one that ends it. */
  private extendRun(run: FrontendMessage[]): void {
    while (run.length < MAX_RUN) {
      let n: FrontendMessage | undefined;
      try {
        n = this.decodeBuffered();
      } catch {
        return; // the bad bytes are reported when the loop reads them
      }
      if (n === undefined) return;
      // A Query or FunctionCall starts its own run; a message the state rejects, or Terminate, ends it.
      const ruleAction = this.fsm.info.recv[n.type]?.action;
      if (n.type === 'Query' || n.type === 'FunctionCall' || n.type === 'Terminate' || ruleAction !== 'accept') {
        if (ruleAction === 'ignore') {
          this.fsm.received(n.type);
          continue;
        }
        this.stashed = n;
        return;
      }
      this.fsm.received(n.type);
      run.push(n);
      if (!this.fsm.frontendSpeaks || MESSAGES[n.type]?.flushesOutput) return;
    }
  }

  private deliverAsync(m: BackendMessage): void {
    this.asyncQueue.push(m);
    if (!this.executing && this.fsm.frontendSpeaks && this.fsm.info.phase === 'command') this.flushAsync();
  }

  private flushAsync(): void {
    if (this.asyncQueue.length === 0 || this.fsm.closed) return;
    for (const m of this.asyncQueue.splice(0)) this.out.send(m);
    this.out.flush();
  }
}
