/**
 * One scripted connection: writes frontend messages or raw bytes, and reads backend messages with
 * the generated decoders until a condition holds. It makes no protocol decisions of its own except
 * upgrading to TLS after an 'S' answer to SSLRequest.
 */
import { Buffer } from 'node:buffer';
import { connect as netConnect, type Socket } from 'node:net';
import { encodeFrontend, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import { Writer } from '../../runtime/wire/index.js';
import { BackendReader } from '../support/backend-reader.js';
import type { ReadOutcome } from './corpus-format.js';

/** A backend message, or how a read ended without one. */
export type Received = BackendMessage | ReadOutcome;

export class WireClient {
  private readonly reader: BackendReader;
  private broken: string | undefined;

  private constructor(socket: Socket) {
    this.reader = new BackendReader(socket);
  }

  static async connect(host: string, port: number): Promise<WireClient> {
    const socket = netConnect({ host, port, noDelay: true });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new WireClient(socket);
  }

  get peerCertificate(): Buffer | undefined {
    const s = this.reader.socket as Socket & { getPeerCertificate?: () => { raw?: Buffer } };
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
      if (item.type === 'SSLRequest' || item.type === 'GSSENCRequest') this.reader.decoder.expectReply = item.type;
      if (item.type === 'StartupMessage') this.protocolVersion = item.protocolVersion;
    }
    parts.push(w.take());
    if (!this.reader.ended) this.reader.socket.write(Buffer.concat(parts));
  }

  set protocolVersion(v: number) {
    this.reader.protocolVersion = v;
  }

  /** The next message; Closed once the peer closed and everything was read; Timeout after `timeoutMs` of silence. */
  async next(timeoutMs: number): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.broken !== undefined) return { type: 'DecodeError', message: this.broken };
      let m: BackendMessage | undefined;
      try {
        m = this.reader.decoder.next();
      } catch (err) {
        this.broken = (err as Error).message;
        return { type: 'DecodeError', message: this.broken };
      }
      if (m !== undefined) {
        if (m.type === 'NegotiateProtocolVersion') this.protocolVersion = m.newestVersion;
        if (m.type === 'SSLAccepted') await this.reader.startTls({ ALPNProtocols: ['postgresql'] });
        return m;
      }
      if (this.reader.ended) return { type: 'Closed' };
      if (!(await this.reader.waitUntil(deadline))) return { type: 'Timeout' };
    }
  }

  close(): void {
    this.reader.socket.destroy();
  }
}
