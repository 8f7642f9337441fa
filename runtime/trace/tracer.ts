/**
 * A wire tracer: it sits between a client and a server, passes every message on byte for byte, and
 * reports each one decoded, in both directions, with the state machine's verdict. The startup
 * phase is its own: it answers SSLRequest itself (terminating TLS when it has a certificate,
 * refusing it otherwise so the traffic stays readable), refuses GSSENCRequest, and forwards
 * CancelRequest connections. Decoding and the state machine are the generated ones, so the 'p'
 * family is told apart by the state, as a server would.
 *
 * Messages are checked in the order the server handles them: a client's pipelined messages are
 * held back (for the report, not on the wire) while the state machine says the server speaks.
 */
import { once } from 'node:events';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { BACKEND_TABLE, DIRECT_TLS_FIRST_BYTE, FRONTEND_TABLE, MESSAGES, PROTOCOL_3_0, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import { BASE_CODECS } from '../protocol/extension.js';
import { StateMachine, StateViolation } from '../protocol/state-machine.js';
import { decodeOne, ProtocolDecodeError, Writer } from '../wire/index.js';
import { Framer, type FrameKind } from './framer.js';
import { formatJson, formatText, type TraceEvent } from './format.js';

export interface WireTracerOptions {
  /** Where to listen; default 127.0.0.1 and a free port. */
  readonly host?: string;
  readonly port?: number;
  readonly upstream: { readonly host: string; readonly port: number };
  /** JSON lines instead of text. */
  readonly json?: boolean;
  /** A certificate to terminate client TLS with (PEM). Without it SSLRequest is refused. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Where lines go; default stdout. */
  readonly write?: (line: string) => void;
  /** Every event, as data (for tests and tools). */
  readonly onEvent?: (event: TraceEvent) => void;
}

/** Client messages held for the report beyond this are reported anyway (a state machine gone astray). */
const MAX_HELD = 10_000;

export class WireTracer {
  private server: Server | undefined;
  private readonly connections = new Set<TraceConnection>();
  private count = 0;
  private readonly secureContext: SecureContext | undefined;

  constructor(private readonly options: WireTracerOptions) {
    this.secureContext = options.tls ? createSecureContext({ cert: options.tls.cert, key: options.tls.key }) : undefined;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const server = createServer({ noDelay: true }, (socket) => {
      const conn = new TraceConnection(++this.count, socket, this.options, this.secureContext);
      this.connections.add(conn);
      void conn.done.finally(() => this.connections.delete(conn));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve);
    });
    this.server = server;
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.connections) c.destroy();
    await Promise.all([...this.connections].map((c) => c.done));
  }
}

/** Reads whole frames from a socket during the startup phase. */
class StartupReader {
  readonly framer = new Framer();
  private wake: (() => void) | undefined;
  private ended = false;
  private readonly onData = (chunk: Buffer): void => {
    this.framer.push(chunk);
    this.wakeUp();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wakeUp();
  };

  constructor(private socket: Socket) {
    this.attach(socket);
  }

  attach(socket: Socket): void {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async until(ready: () => boolean): Promise<boolean> {
    while (!ready()) {
      if (this.ended) return false;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return true;
  }

  async frame(kind: FrameKind): Promise<Buffer | undefined> {
    let f: Buffer | undefined;
    return (await this.until(() => (f = this.framer.next(kind)) !== undefined)) ? f : undefined;
  }

  /** The first buffered byte, waiting for one. */
  async peekByte(): Promise<number | undefined> {
    if (!(await this.until(() => this.framer.buffered > 0))) return undefined;
    const all = this.framer.drain();
    this.framer.push(all);
    return all[0];
  }
}

class TraceConnection {
  private readonly fsm = new StateMachine(BASE_CODECS.stateTables);
  private protocolVersion = PROTOCOL_3_0;
  private client: Socket;
  private upstream: Socket | undefined;
  private readonly held: Buffer[] = [];
  private finished = false;
  readonly done: Promise<void>;

  constructor(
    private readonly id: number,
    client: Socket,
    private readonly options: WireTracerOptions,
    private readonly secureContext: SecureContext | undefined,
  ) {
    this.client = client;
    client.on('error', () => undefined);
    this.done = this.run();
  }

  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }

  private line(text: string, event: Record<string, unknown>): void {
    const write = this.options.write ?? ((l: string) => process.stdout.write(`${l}\n`));
    write(this.options.json ? JSON.stringify({ conn: this.id, ...event }) : `#${this.id} -- ${text}`);
  }

  private emit(e: TraceEvent): void {
    this.options.onEvent?.(e);
    const write = this.options.write ?? ((l: string) => process.stdout.write(`${l}\n`));
    write(this.options.json ? formatJson(e) : formatText(e));
  }

  private async run(): Promise<void> {
    this.line(`connection from ${this.client.remoteAddress ?? '?'}:${this.client.remotePort ?? '?'}`, { event: 'open', from: `${this.client.remoteAddress}:${this.client.remotePort}` });
    try {
      const startup = await this.startup();
      if (startup !== undefined) await this.relay(startup.frame, startup.pipelined, startup.clientTls);
    } catch (err) {
      this.line(`error: ${(err as Error).message}`, { event: 'error', error: (err as Error).message });
    } finally {
      this.finished = true;
      this.reportHeld(true);
      this.destroy();
      this.line('closed', { event: 'close' });
    }
  }

  // ---- startup ------------------------------------------------------------------------------------

  /** Runs the startup phase with the client; the StartupMessage's bytes, or undefined when the connection ends here. */
  private async startup(): Promise<{ frame: Buffer; pipelined: Buffer; clientTls: boolean } | undefined> {
    const reader = new StartupReader(this.client);
    let clientTls = false;
    try {
      for (;;) {
        if (this.fsm.info.directTls !== undefined && !clientTls && (await reader.peekByte()) === DIRECT_TLS_FIRST_BYTE) {
          // Direct TLS (PostgreSQL 17's sslnegotiation=direct) would hide the traffic: not traced.
          this.line('direct TLS handshake: not supported by the tracer, closing', { event: 'direct-tls-refused' });
          return undefined;
        }
        const frame = await reader.frame('startup');
        if (frame === undefined) return undefined;
        const m = this.frontend(frame, 'startup');
        switch (m?.type) {
          case 'SSLRequest':
            if (this.secureContext !== undefined) {
              this.reply(Buffer.from('S'), { type: 'SSLAccepted' });
              if (reader.framer.buffered > 0) {
                this.emit({ conn: this.id, dir: 'F', state: this.fsm.state, type: 'plaintext', bytes: reader.framer.buffered, violation: 'received unencrypted data after SSL request' });
                return undefined;
              }
              if (!(await this.upgradeClient(reader))) return undefined;
              clientTls = true;
            } else this.reply(Buffer.from('N'), { type: 'SSLRejected' });
            break;
          case 'GSSENCRequest':
            this.reply(Buffer.from('N'), { type: 'GSSENCRejected' });
            break;
          case 'CancelRequest':
            await this.forwardCancel(frame);
            return undefined;
          case 'StartupMessage':
            this.protocolVersion = m.protocolVersion;
            reader.detach();
            // Pipelined bytes after the StartupMessage (a password, even queries) go on with it.
            return { frame, pipelined: reader.framer.drain(), clientTls };
          default:
            return undefined;
        }
      }
    } finally {
      reader.detach();
    }
  }

  /** The tracer's own one-byte answer to SSLRequest or GSSENCRequest. */
  private reply(bytes: Buffer, m: BackendMessage): void {
    this.client.write(bytes);
    this.backendMessage(m, bytes.length, 'answered by the tracer');
  }

  private async upgradeClient(reader: StartupReader): Promise<boolean> {
    reader.detach();
    const secure = new TLSSocket(this.client, { isServer: true, secureContext: this.secureContext! });
    secure.on('error', () => undefined);
    const ok = await new Promise<boolean>((resolve) => {
      secure.once('secure', () => resolve(true));
      secure.once('error', () => resolve(false));
      secure.once('close', () => resolve(false));
    });
    if (!ok) return false;
    this.client = secure;
    reader.attach(secure);
    this.line(`client TLS established (${secure.getProtocol() ?? '?'})`, { event: 'client-tls', protocol: secure.getProtocol() });
    return true;
  }

  private async connectUpstream(tryTls: boolean): Promise<Socket> {
    const { host, port } = this.options.upstream;
    const socket = netConnect({ host, port, noDelay: true });
    socket.on('error', () => undefined);
    await Promise.race([
      once(socket, 'connect'),
      once(socket, 'close').then(() => {
        throw new Error(`cannot connect to the upstream ${host}:${port}`);
      }),
    ]);
    if (!tryTls) return socket;
    const w = new Writer(16);
    BASE_CODECS.encodeFrontend(w, { type: 'SSLRequest' });
    socket.write(w.take());
    const [answer] = (await once(socket, 'data')) as [Buffer];
    if (answer[0] !== 'S'.charCodeAt(0)) {
      this.line('upstream refused TLS: plaintext to the upstream', { event: 'upstream', tls: false });
      return socket;
    }
    const secure = tlsConnect({ socket, rejectUnauthorized: false, servername: undefined });
    secure.on('error', () => undefined);
    await once(secure, 'secureConnect');
    this.line(`upstream TLS established (${secure.getProtocol() ?? '?'})`, { event: 'upstream', tls: true });
    return secure;
  }

  private async forwardCancel(frame: Buffer): Promise<void> {
    const upstream = await this.connectUpstream(false);
    upstream.end(frame);
    await once(upstream, 'close').catch(() => undefined);
  }

  // ---- relay --------------------------------------------------------------------------------------

  private async relay(startup: Buffer, pipelined: Buffer, clientTls: boolean): Promise<void> {
    const upstream = await this.connectUpstream(clientTls);
    this.upstream = upstream;
    const client = this.client;
    const fromClient = new Framer();
    const fromUpstream = new Framer();
    upstream.write(startup);
    // The StartupMessage is already reported; what the client sent right after it is framed from here on.
    fromClient.push(pipelined);
    this.pump(fromClient, upstream, client, (f) => {
      this.held.push(f);
      this.reportHeld(false);
    });
    client.on('data', (chunk: Buffer) => {
      fromClient.push(chunk);
      this.pump(fromClient, upstream, client, (f) => {
        this.held.push(f);
        this.reportHeld(false);
      });
    });
    upstream.on('data', (chunk: Buffer) => {
      fromUpstream.push(chunk);
      this.pump(fromUpstream, client, upstream, (f) => {
        this.backend(f);
        this.reportHeld(false);
      });
    });
    const clientGone = new Promise<void>((resolve) => {
      client.once('close', () => resolve());
      client.once('end', () => resolve());
    });
    const upstreamGone = new Promise<void>((resolve) => {
      upstream.once('close', () => resolve());
      upstream.once('end', () => resolve());
    });
    await Promise.race([clientGone, upstreamGone]);
    // Let what is in flight the other way arrive before closing it.
    client.end();
    upstream.end();
    await Promise.race([Promise.all([clientGone, upstreamGone]), new Promise((r) => setTimeout(r, 1000).unref())]);
  }

  /** Forwards every whole frame, pausing the source while the destination is full, and reports it. */
  private pump(framer: Framer, to: Socket, from: Socket, report: (frame: Buffer) => void): void {
    for (;;) {
      const f = framer.next('typed');
      if (f === undefined) return;
      if (!to.destroyed && !to.write(f) && !from.isPaused()) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      report(f);
    }
  }

  // ---- decoding and the state machine -------------------------------------------------------------

  private frontend(frame: Buffer, kind: FrameKind): FrontendMessage | undefined {
    const state = this.fsm.state;
    let m: FrontendMessage;
    try {
      m = decodeOne(FRONTEND_TABLE, frame, { framing: kind, context: { protocolVersion: this.protocolVersion, contextual: this.fsm.info.contextual } });
    } catch (err) {
      if (!(err instanceof ProtocolDecodeError)) throw err;
      this.emit({ conn: this.id, dir: 'F', state, type: err.messageName, bytes: frame.length, violation: `does not decode: ${err.message}` });
      return undefined;
    }
    const v = this.fsm.received(m.type, { byte: MESSAGES[m.type]?.typeByte?.charCodeAt(0), protocolCode: m.type === 'StartupMessage' ? m.protocolVersion : MESSAGES[m.type]?.code });
    this.emit({
      conn: this.id,
      dir: 'F',
      state,
      type: m.type,
      message: m,
      bytes: frame.length,
      ...(v.action === 'reject' ? { violation: `${v.sqlstate} ${v.message}` } : {}),
      ...(v.action === 'ignore' ? { note: 'ignored in this state' } : {}),
    });
    return m;
  }

  private backend(frame: Buffer): void {
    let m: BackendMessage;
    try {
      m = decodeOne(BACKEND_TABLE, frame, { context: { protocolVersion: this.protocolVersion } });
    } catch (err) {
      if (!(err instanceof ProtocolDecodeError)) throw err;
      this.emit({ conn: this.id, dir: 'B', state: this.fsm.state, type: err.messageName, bytes: frame.length, violation: `does not decode: ${err.message}` });
      return;
    }
    if (m.type === 'NegotiateProtocolVersion') this.protocolVersion = m.newestVersion >>> 0;
    this.backendMessage(m, frame.length, undefined);
  }

  private backendMessage(m: BackendMessage, bytes: number, note: string | undefined): void {
    const state = this.fsm.state;
    let violation: string | undefined;
    try {
      this.fsm.sent(m.type);
    } catch (err) {
      if (!(err instanceof StateViolation)) throw err;
      violation = err.message;
    }
    this.emit({ conn: this.id, dir: 'B', state, type: m.type, message: m, bytes, ...(violation ? { violation } : {}), ...(note ? { note } : {}) });
  }

  /** Reports held client messages once the server would read them (or all of them at the end). */
  private reportHeld(all: boolean): void {
    while (this.held.length > 0 && (all || this.finished || this.fsm.frontendSpeaks || this.held.length > MAX_HELD)) {
      this.frontend(this.held.shift()!, 'typed');
    }
  }
}
