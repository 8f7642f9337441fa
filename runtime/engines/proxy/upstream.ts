/**
 * The proxy's connection to the upstream server: it logs in with the configured credentials
 * (TLS and every authentication method the client code knows, SCRAM included), then hands out
 * backend messages as the session takes them: `onInput` says when bytes arrived, and `take()`
 * decodes what is there without waiting, so a whole answer is relayed in the turn its bytes
 * came in. Input is read only as fast as it is taken: beyond a high-water mark of undecoded
 * bytes the socket is paused, so a fast upstream cannot outrun a slow client through the
 * proxy's memory.
 *
 * Every message either way is checked against its own state machine (the upstream server's
 * side); a message it does not allow is an `UpstreamViolation`.
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { MESSAGES, PROTOCOL_3_0, PROTOCOL_VERSIONS, encodeBackend, encodeFrontend, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import { AuthError, CertificateError, tlsServerEndPointHash } from '../../auth/index.js';
import { ClientAuthenticator } from '../../client/authenticate.js';
import { sendCancelRequest } from '../../client/cancel.js';
import type { TlsMode } from '../../client/options.js';
import { readErrorFields, type ErrorInfo } from '../../protocol/error-fields.js';
import { BASE_CODECS } from '../../protocol/extension.js';
import { StateMachine, StateViolation } from '../../protocol/state-machine.js';
import { ProtocolDecodeError, StreamDecoder, Writer } from '../../wire/index.js';
import { EngineError } from '../../engine.js';

/** Undecoded upstream bytes beyond which the socket is paused until the session pulls more. */
const INPUT_HIGH_WATER = 1024 * 1024;
/** The most one read of the plain socket takes, into the connection's own buffer. */
const READ_SIZE = 64 * 1024;

export interface UpstreamLogin {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  /** StartupMessage parameters besides user and database (application_name, options...). */
  readonly parameters: Readonly<Record<string, string>>;
  readonly protocolVersion: number;
  readonly tls: TlsMode;
  readonly tlsOptions: ConnectionOptions;
  readonly connectTimeoutMs: number;
}

/** The upstream broke the protocol: bytes that do not decode, or a message its state does not allow. */
export class UpstreamViolation extends Error {
  readonly sqlstate = '08P01';

  constructor(
    /** The offending message, or what the decoder could name of it. */
    readonly messageName: string,
    /** The upstream state machine's state when it came. */
    readonly state: string,
    /** Which side broke it: the upstream server, or (when the two state machines disagree) the client. */
    readonly by: 'upstream' | 'client',
    detail: string,
  ) {
    super(`protocol violation by the ${by} (upstream state ${state}, message ${messageName}): ${detail}`);
    this.name = 'UpstreamViolation';
  }
}

export class UpstreamConnection {
  readonly fsm = new StateMachine(BASE_CODECS.stateTables);
  /** ParameterStatus values reported at login, in order. */
  readonly parameterStatus: [string, string][] = [];
  processId = 0;
  secretKey: Uint8Array = new Uint8Array(0);
  protocolVersion: number;
  /** Called, synchronously, when bytes arrived or the connection ended: `take()` has more to give. */
  onInput: (() => void) | undefined;
  private socket: Socket;
  private readonly decoder = new StreamDecoder(BASE_CODECS.backendTable, { framing: 'typed' });
  private readonly w = new Writer(64 * 1024);
  private wake: (() => void) | undefined;
  private closedByPeer = false;
  private encrypted = false;

  private constructor(
    socket: Socket,
    private readonly login: UpstreamLogin,
  ) {
    this.socket = socket;
    this.protocolVersion = login.protocolVersion;
    this.decoder.context = { protocolVersion: login.protocolVersion };
    this.attach(socket);
  }

  /** Connects, negotiates TLS, logs in and reads up to the first ReadyForQuery. */
  static async connect(login: UpstreamLogin): Promise<UpstreamConnection> {
    // Plain reads go into one buffer of the connection's (no allocation, no stream machinery per
    // read); what is left undecoded after a read is copied out before the next one (see `input`).
    // A TLS socket over it reads its own way.
    const readBuffer = Buffer.allocUnsafe(READ_SIZE);
    let conn: UpstreamConnection | undefined;
    const socket = netConnect({
      host: login.host,
      port: login.port,
      noDelay: true,
      onread: { buffer: readBuffer, callback: (n: number) => conn?.input(readBuffer.subarray(0, n), true) !== false },
    });
    try {
      await connected(socket, login.connectTimeoutMs);
    } catch (err) {
      socket.destroy();
      throw new EngineError('08001', `proxy: cannot reach the upstream server at ${login.host}:${login.port}: ${(err as Error).message}`, { cause: err });
    }
    conn = new UpstreamConnection(socket, login);
    const timer = setTimeout(() => conn.destroy(), login.connectTimeoutMs);
    try {
      await conn.startup();
    } catch (err) {
      conn.destroy();
      if (err instanceof EngineError) throw err;
      throw new EngineError('08001', `proxy: upstream login failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    return conn;
  }

  /** The socket has ended: what `take()` cannot decode now will never be complete. */
  get ended(): boolean {
    return this.closedByPeer;
  }

  // ---- transport ----------------------------------------------------------------------------------

  /**
   * Takes bytes read from the socket; false pauses it (too much is undecoded). A `reused` chunk is
   * a view of the read buffer: whatever the session did not take from it now is copied out.
   */
  private input(chunk: Uint8Array, reused: boolean): boolean {
    this.decoder.push(chunk);
    this.wakeUp();
    if (reused && this.decoder.buffered > 0) this.decoder.push(Buffer.from(this.decoder.drain()));
    if (this.decoder.buffered <= INPUT_HIGH_WATER) return true;
    this.socket.pause();
    return false;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.input(chunk, false);
  };

  private readonly onEnd = (): void => {
    if (this.closedByPeer) return;
    this.closedByPeer = true;
    this.wakeUp();
  };

  private attach(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onEnd);
    socket.off('error', this.onEnd);
  }

  private wakeUp(): void {
    const w = this.wake;
    if (w !== undefined) {
      this.wake = undefined;
      w();
    }
    this.onInput?.();
  }

  /**
   * The next backend message already received, after checking it against the state machine;
   * undefined when more bytes are needed (see `ended`). Throws UpstreamViolation.
   */
  take(): BackendMessage | undefined {
    let m: BackendMessage | undefined;
    try {
      m = this.decoder.next();
    } catch (err) {
      if (err instanceof ProtocolDecodeError) throw new UpstreamViolation(err.messageName, this.fsm.state, 'upstream', err.message);
      throw err;
    }
    if (m === undefined) {
      if (this.socket.isPaused() && !this.closedByPeer) this.socket.resume();
      return undefined;
    }
    const state = this.fsm.state;
    try {
      this.fsm.sent(m.type);
    } catch (err) {
      if (err instanceof StateViolation) throw new UpstreamViolation(m.type, state, 'upstream', err.message);
      throw err;
    }
    return m;
  }

  /**
   * A copy of a message `take()` gave that stays valid after the next read (a message may view
   * the read buffer): for one the session keeps for later.
   */
  retain(m: BackendMessage): BackendMessage {
    const w = new Writer(256);
    encodeBackend(w, m);
    const copy = new StreamDecoder(BASE_CODECS.backendTable, { context: this.decoder.context });
    copy.push(w.take());
    return copy.next()!;
  }

  /** The next backend message, waiting for it (login); undefined once the upstream has closed. */
  async next(): Promise<BackendMessage | undefined> {
    for (;;) {
      const m = this.take();
      if (m !== undefined) return m;
      if (this.closedByPeer) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Encodes a frontend message for the upstream after checking it against its state machine; `send()` writes it. */
  queue(m: FrontendMessage): void {
    if (this.admit(m.type)) encodeFrontend(this.w, m);
    if (m.type === 'SSLRequest') this.decoder.expectReply = 'SSLRequest';
  }

  /**
   * Queues a message as the client sent it, byte for byte (one that could not be decoded, so
   * cannot be encoded again), after the same check. With `refused`, the state machine is known
   * to refuse it and it is sent anyway, for the upstream to answer as it does such a message.
   */
  queueFrame(type: FrontendMessage['type'], frame: Uint8Array, refused = false): void {
    if (refused) {
      this.fsm.received(type, { byte: frame[0] });
      this.w.bytes(frame);
    } else if (this.admit(type)) this.w.bytes(frame);
  }

  /** Moves the state machine for a frontend message; false when the upstream would ignore it. */
  private admit(type: FrontendMessage['type']): boolean {
    const fsm = this.fsm;
    // The common case costs one lookup; only a refusal needs the type byte, for its text.
    if (fsm.accepts(type)) return true;
    const state = fsm.state;
    const v = fsm.received(type, { byte: MESSAGES[type]?.typeByte?.charCodeAt(0) });
    if (v.action === 'reject') throw new UpstreamViolation(type, state, 'client', v.message);
    return v.action === 'accept';
  }

  /** Writes what was queued; false when the socket is full (`drained()` says when it has room). */
  send(): boolean {
    if (this.w.length === 0) return true;
    const bytes = this.w.take();
    if (this.socket.destroyed || !this.socket.writable) return true;
    return this.socket.write(bytes);
  }

  /** Resolves once the socket has room again, or has closed. */
  drained(): Promise<void> {
    const socket = this.socket;
    if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /** Asks the upstream, on a new connection, to cancel what this session runs there. */
  cancel(): Promise<void> {
    return sendCancelRequest({
      host: this.login.host,
      port: this.login.port,
      processId: this.processId,
      secretKey: this.secretKey,
      tls: this.encrypted ? this.login.tls : 'disable',
      tlsOptions: this.login.tlsOptions,
    });
  }

  /** Sends Terminate (when the session is still usable) and closes the socket. */
  async close(): Promise<void> {
    if (!this.closedByPeer && !this.fsm.closed && this.fsm.frontendSpeaks) {
      try {
        this.queue({ type: 'Terminate' });
        // An upstream that stopped reading must not hold the close.
        if (!this.send()) await Promise.race([this.drained(), new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
      } catch {
        // Closing anyway.
      }
    }
    const closed = this.closedByPeer ? Promise.resolve() : once(this.socket, 'close').then(() => undefined, () => undefined);
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    await closed;
    clearTimeout(timer);
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.socket.destroy();
    this.onEnd();
  }

  // ---- login --------------------------------------------------------------------------------------

  private async startup(): Promise<void> {
    const login = this.login;
    if (login.tls !== 'disable') {
      this.queue({ type: 'SSLRequest' });
      this.send();
      const reply = await this.expect();
      if (reply.type === 'SSLAccepted') await this.startTls();
      else if (reply.type === 'SSLRejected') {
        if (login.tls === 'require') throw new EngineError('08001', 'proxy: the upstream server does not support SSL, but SSL was required');
      } else if (reply.type === 'ErrorResponse') throw errorOf(reply);
    }
    const parameters = [
      { name: 'user', value: login.user },
      { name: 'database', value: login.database },
      ...Object.entries(login.parameters).map(([name, value]) => ({ name, value })),
    ];
    this.queue({ type: 'StartupMessage', protocolVersion: login.protocolVersion, parameters });
    this.send();
    const auth = new ClientAuthenticator({ user: login.user, password: login.password, channelBinding: this.channelBinding(), channelBindingMode: 'prefer' });
    for (;;) {
      const m = await this.expect();
      switch (m.type) {
        case 'ErrorResponse':
          throw errorOf(m);
        case 'NegotiateProtocolVersion': {
          const newest = m.newestVersion >>> 0;
          if (newest > this.protocolVersion || newest < PROTOCOL_3_0 || !PROTOCOL_VERSIONS.some((v) => v.code === newest)) {
            throw new UpstreamViolation(m.type, this.fsm.state, 'upstream', `the upstream offered protocol ${newest >>> 16}.${newest & 0xffff}`);
          }
          this.protocolVersion = newest;
          this.decoder.context = { protocolVersion: newest };
          break;
        }
        case 'BackendKeyData':
          this.processId = m.processId;
          this.secretKey = Uint8Array.from(m.secretKey);
          break;
        case 'ParameterStatus':
          this.parameterStatus.push([m.name, m.value]);
          break;
        case 'NoticeResponse':
          break;
        case 'ReadyForQuery':
          return;
        default: {
          let answer: FrontendMessage | undefined;
          try {
            answer = auth.respond(m);
          } catch (err) {
            if (err instanceof AuthError) throw new EngineError(err.sqlstate, `proxy: upstream login failed: ${err.message}`, { cause: err });
            throw err;
          }
          if (answer) {
            this.queue(answer);
            this.send();
          }
        }
      }
    }
  }

  private async expect(): Promise<BackendMessage> {
    const m = await this.next();
    if (m === undefined) throw new EngineError('08006', 'proxy: the upstream server closed the connection during login');
    return m;
  }

  private async startTls(): Promise<void> {
    if (this.decoder.buffered > 0) throw new UpstreamViolation('SSLAccepted', this.fsm.state, 'upstream', 'received unencrypted data after SSL response');
    const raw = this.socket;
    this.detach(raw);
    const secure: TLSSocket = tlsConnect({ ...this.login.tlsOptions, socket: raw });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', (err) => reject(new EngineError('08001', `proxy: TLS handshake with the upstream failed: ${err.message}`, { cause: err })));
    });
    this.socket = secure;
    this.encrypted = true;
    this.attach(secure);
  }

  private channelBinding(): Buffer | undefined {
    if (!this.encrypted) return undefined;
    const cert = (this.socket as TLSSocket).getPeerCertificate();
    if (!cert?.raw) return undefined;
    try {
      return tlsServerEndPointHash(cert.raw);
    } catch (err) {
      if (err instanceof CertificateError) return undefined;
      throw err;
    }
  }
}

/** An upstream ErrorResponse as the EngineError that ends the client's session with the same SQLSTATE. */
export function errorOf(m: BackendMessage & { type: 'ErrorResponse' }): EngineError & { readonly info: ErrorInfo } {
  const info = readErrorFields(m);
  return Object.assign(new EngineError(info.code ?? '08006', info.message ?? 'upstream error'), { info });
}

/** Resolves when the socket has connected; rejects on an error or after `timeoutMs`. */
async function connected(socket: Socket, timeoutMs: number): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await once(socket, 'connect', { signal });
  } catch (err) {
    throw signal.aborted ? new Error(`timed out after ${timeoutMs} ms`) : err;
  }
}
