/**
 * One scripted connection: writes frontend messages or raw bytes, and reads backend messages with
 * the generated decoders until a condition holds. It makes no protocol decisions of its own except
 * upgrading to TLS after an 'S' answer to SSLRequest.
 */
import { Buffer } from 'node:buffer';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { BACKEND_TABLE, PROTOCOL_3_0, encodeFrontend, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import { StreamDecoder, Writer } from '../../runtime/wire/index.js';
import type { ReadOutcome } from './corpus-format.js';

/** A backend message, or how a read ended without one. */
export type Received = BackendMessage | ReadOutcome;

export class WireClient {
  private readonly decoder = new StreamDecoder<BackendMessage>(BACKEND_TABLE, { context: { protocolVersion: PROTOCOL_3_0 } });
  private waiters: (() => void)[] = [];
  private ended = false;
  private broken: string | undefined;

  private constructor(private socket: Socket) {
    this.attach(socket);
  }

  static async connect(host: string, port: number): Promise<WireClient> {
    const socket = netConnect({ host, port, noDelay: true });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new WireClient(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get peerCertificate(): Buffer | undefined {
    const s = this.socket as Socket & { getPeerCertificate?: () => { raw?: Buffer } };
    return s.getPeerCertificate?.().raw;
  }

  /** Writes messages and raw byte strings in one write, adjusting the decoder to what was sent. */
  send(items: readonly (FrontendMessage | Uint8Array)[]): void {
    const w = new Writer();
    const parts: Uint8Array[] = [];
    for (const item of items) {
      if (item instanceof Uint8Array) {
        parts.push(w.take(), item);
        continue;
      }
      encodeFrontend(w, item);
      if (item.type === 'SSLRequest' || item.type === 'GSSENCRequest') this.decoder.expectReply = item.type;
      if (item.type === 'StartupMessage') this.protocolVersion = item.protocolVersion;
    }
    parts.push(w.take());
    if (!this.ended) this.socket.write(Buffer.concat(parts));
  }

  set protocolVersion(v: number) {
    this.decoder.context = { ...this.decoder.context, protocolVersion: v };
  }

  /** The next message; Closed once the peer closed and everything was read; Timeout after `timeoutMs` of silence. */
  async next(timeoutMs: number): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.broken !== undefined) return { type: 'DecodeError', message: this.broken };
      let m: BackendMessage | undefined;
      try {
        m = this.decoder.next();
      } catch (err) {
        this.broken = (err as Error).message;
        return { type: 'DecodeError', message: this.broken };
      }
      if (m !== undefined) {
        if (m.type === 'NegotiateProtocolVersion') this.protocolVersion = m.newestVersion;
        if (m.type === 'SSLAccepted') await this.startTls();
        return m;
      }
      if (this.ended) return { type: 'Closed' };
      const left = deadline - Date.now();
      if (left <= 0) return { type: 'Timeout' };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, ALPNProtocols: ['postgresql'] });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}
