/**
 * A scripted frontend for the cases no real client produces: messages are encoded with the
 * generated encoders, answers decoded with the generated backend table. Test-only.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import {
  PROTOCOL_3_0,
  encodeFrontend,
  type BackendMessage,
  type ErrorResponse,
  type FrontendMessage,
  type StartupMessage,
} from '../../../generated/index.js';
import { readErrorFields, type ErrorInfo } from '../../../runtime/protocol/error-fields.js';
import { Writer } from '../../../runtime/wire/index.js';
import { BackendReader } from '../../support/backend-reader.js';

/** What `next()` returns once the server has closed the connection and every message was read. */
export const CLOSED = { type: 'Closed' } as const;
export type Received = BackendMessage | typeof CLOSED;

export class RawClient {
  private readonly reader: BackendReader;

  private constructor(socket: Socket) {
    this.reader = new BackendReader(socket);
  }

  /** The socket the client is on now (TLS once started). */
  get socket(): Socket {
    return this.reader.socket;
  }

  /** Number of 'data' events seen: how many chunks the server's output arrived in (an upper bound on its writes). */
  get chunks(): number {
    return this.reader.chunks;
  }

  /** Bytes received in total. */
  get bytes(): number {
    return this.reader.bytes;
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = netConnect({ host, port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  /** Starts TLS directly as the first bytes (libpq sslnegotiation=direct). */
  static async connectDirectTls(port: number, options: ConnectionOptions): Promise<RawClient> {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  set protocolVersion(v: number) {
    this.reader.protocolVersion = v;
  }

  /** Encodes and writes the messages in one write. */
  send(...messages: FrontendMessage[]): void {
    this.write(encode(...messages));
  }

  write(bytes: Uint8Array): void {
    this.reader.socket.write(bytes);
  }

  /** Sends an SSLRequest/GSSENCRequest and reads the one-byte answer. */
  async request(m: { type: 'SSLRequest' } | { type: 'GSSENCRequest' }, trailing?: Uint8Array): Promise<Received> {
    this.reader.decoder.expectReply = m.type;
    this.write(trailing ? Buffer.concat([encode(m), trailing]) : encode(m));
    return this.next();
  }

  /** Upgrades the plain socket to TLS (after 'S'). */
  startTls(options: ConnectionOptions = {}): Promise<TLSSocket> {
    return this.reader.startTls(options);
  }

  /** The next backend message, or CLOSED; rejects after `timeoutMs` without one. */
  async next(timeoutMs = 5000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.reader.decoder.next();
      // Later messages (BackendKeyData) are decoded by the version the server settled on.
      if (m?.type === 'NegotiateProtocolVersion') this.protocolVersion = m.newestVersion;
      if (m !== undefined) return m;
      if (this.reader.ended) return CLOSED;
      if (!(await this.reader.waitUntil(deadline))) throw new Error('timed out waiting for a backend message');
    }
  }

  /** Reads messages up to and including one of type `type` (or CLOSED). */
  async until(type: BackendMessage['type'] | 'Closed', timeoutMs = 5000): Promise<Received[]> {
    const out: Received[] = [];
    for (;;) {
      const m = await this.next(timeoutMs);
      out.push(m);
      if (m.type === type || m.type === 'Closed') return out;
    }
  }

  /** Reads until the connection closes; returns everything received. */
  async drainToClose(timeoutMs = 5000): Promise<Received[]> {
    return this.until('Closed', timeoutMs);
  }

  /** Logs in (3.0 unless given) as a trust user and reads through ReadyForQuery. */
  async login(user: string, extra: Partial<StartupMessage> = {}): Promise<Received[]> {
    this.send(startup(user, extra));
    this.protocolVersion = extra.protocolVersion ?? PROTOCOL_3_0;
    return this.until('ReadyForQuery');
  }

  close(): void {
    this.socket.destroy();
  }
}

export function encode(...messages: FrontendMessage[]): Buffer {
  const w = new Writer();
  for (const m of messages) encodeFrontend(w, m);
  return w.take();
}

export function startup(user: string | undefined, extra: Partial<StartupMessage> = {}): StartupMessage {
  const parameters = [...(user === undefined ? [] : [{ name: 'user', value: user }]), ...(extra.parameters ?? [])];
  return { type: 'StartupMessage', protocolVersion: extra.protocolVersion ?? PROTOCOL_3_0, parameters };
}

/** The fields of an ErrorResponse in a received list (the first one), by name. */
export function errorOf(messages: readonly Received[]): ErrorInfo {
  const e = messages.find((m): m is ErrorResponse => m.type === 'ErrorResponse');
  if (e === undefined) throw new Error(`no ErrorResponse in ${types(messages).join(' ')}`);
  return readErrorFields(e);
}

export function types(messages: readonly Received[]): string[] {
  return messages.map((m) => m.type);
}

/** The answer types without the login noise that differs between servers. */
export function shape(messages: readonly Received[]): string[] {
  return types(messages).filter((t) => t !== 'ParameterStatus' && t !== 'NoticeResponse');
}
