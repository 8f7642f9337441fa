/**
 * The proxy's connection to the upstream server: it logs in with the configured credentials
 * (TLS and every authentication method the client code knows, SCRAM included), then hands out
 * backend messages one at a time as the session pulls them. Input is read only as fast as it is
 * pulled: beyond a high-water mark of undecoded bytes the socket is paused, so a fast upstream
 * cannot outrun a slow client through the proxy's memory.
 *
 * Every message either way is checked against its own state machine (the upstream server's
 * side); a message it does not allow is an `UpstreamViolation`.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { MESSAGES, PROTOCOL_3_0, PROTOCOL_VERSIONS, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import { AuthError, CertificateError, tlsServerEndPointHash } from '../../auth/index.js';
import { ClientAuthenticator } from '../../client/authenticate.js';
import { openSocket, sendCancelRequest } from '../../client/cancel.js';
import type { TlsMode } from '../../client/options.js';
import { readErrorFields, type ErrorInfo } from '../../protocol/error-fields.js';
import { BASE_CODECS } from '../../protocol/extension.js';
import { StateMachine, StateViolation } from '../../protocol/state-machine.js';
import { ProtocolDecodeError, StreamDecoder, Writer } from '../../wire/index.js';
import { EngineError } from '../../engine.js';

/** Undecoded upstream bytes beyond which the socket is paused until the session pulls more. */
const INPUT_HIGH_WATER = 1024 * 1024;

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
  private socket: Socket;
  private readonly decoder = new StreamDecoder(BASE_CODECS.backendTable, { framing: 'typed' });
  private readonly w = new Writer(64 * 1024);
  private wake: (() => void) | undefined;
  private ended = false;
  private encrypted = false;

  private constructor(
    socket: Socket,
    private readonly login: UpstreamLogin,
  ) {
    this.socket = socket;
    this.protocolVersion = login.protocolVersion;
    this.attach(socket);
  }

  /** Connects, negotiates TLS, logs in and reads up to the first ReadyForQuery. */
  static async connect(login: UpstreamLogin): Promise<UpstreamConnection> {
    let socket: Socket;
    try {
      socket = await openSocket(login.host, login.port, login.connectTimeoutMs);
    } catch (err) {
      throw new EngineError('08001', `proxy: cannot reach the upstream server: ${(err as Error).message}`, { cause: err });
    }
    const conn = new UpstreamConnection(socket, login);
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

  /** The upstream's socket has closed. */
  get closed(): boolean {
    return this.ended && this.decoder.buffered === 0;
  }

  // ---- transport ----------------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    this.decoder.push(chunk);
    if (this.decoder.buffered > INPUT_HIGH_WATER) this.socket.pause();
    this.wakeUp();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
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
    this.wake = undefined;
    w?.();
  }

  /**
   * The next backend message, after checking it against the state machine; undefined once the
   * upstream has closed and everything it sent was read. Throws UpstreamViolation.
   */
  async next(): Promise<BackendMessage | undefined> {
    for (;;) {
      const m = this.decodeBuffered();
      if (m !== undefined) {
        const state = this.fsm.state;
        try {
          this.fsm.sent(m.type);
        } catch (err) {
          if (err instanceof StateViolation) throw new UpstreamViolation(m.type, state, 'upstream', err.message);
          throw err;
        }
        return m;
      }
      if (this.ended) return undefined;
      if (this.socket.isPaused()) this.socket.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private decodeBuffered(): BackendMessage | undefined {
    this.decoder.context = { protocolVersion: this.protocolVersion };
    try {
      return this.decoder.next();
    } catch (err) {
      if (err instanceof ProtocolDecodeError) throw new UpstreamViolation(err.messageName, this.fsm.state, 'upstream', err.message);
      throw err;
    }
  }

  /** Encodes frontend messages for the upstream after checking them against its state machine; `flush()` writes them. */
  queue(m: FrontendMessage): void {
    const state = this.fsm.state;
    const v = this.fsm.received(m.type, { byte: MESSAGES[m.type]?.typeByte?.charCodeAt(0) });
    if (v.action === 'reject') throw new UpstreamViolation(m.type, state, 'client', v.message);
    if (v.action === 'ignore') return;
    BASE_CODECS.encodeFrontend(this.w, m);
    if (m.type === 'SSLRequest') this.decoder.expectReply = 'SSLRequest';
  }

  /** Writes what was queued; resolves once the socket has room for more (backpressure on COPY FROM). */
  async flush(): Promise<void> {
    if (this.w.length === 0) return;
    const bytes = this.w.take();
    if (this.socket.destroyed || !this.socket.writable) return;
    if (!this.socket.write(bytes)) {
      await Promise.race([once(this.socket, 'drain'), once(this.socket, 'close')]).catch(() => undefined);
    }
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
    if (!this.ended && !this.fsm.closed && this.fsm.frontendSpeaks) {
      try {
        this.queue({ type: 'Terminate' });
        // An upstream that stopped reading must not hold the close.
        await Promise.race([this.flush(), new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
      } catch {
        // Closing anyway.
      }
    }
    const closed = this.ended ? Promise.resolve() : once(this.socket, 'close').then(() => undefined, () => undefined);
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    await closed;
    clearTimeout(timer);
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.socket.destroy();
    this.ended = true;
    this.wakeUp();
  }

  // ---- login --------------------------------------------------------------------------------------

  private async startup(): Promise<void> {
    const login = this.login;
    if (login.tls !== 'disable') {
      this.queue({ type: 'SSLRequest' });
      await this.flush();
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
    await this.flush();
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
            await this.flush();
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
