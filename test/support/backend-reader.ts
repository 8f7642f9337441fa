/**
 * The reading side of a scripted test client: bytes from the socket (and from the TLS socket that
 * may replace it) go into a backend-message decoder, and a reader waits for more with a deadline.
 * The clients built on it (test/runtime/support/raw-client.ts, test/conformance/wire-client.ts)
 * decide what a message, a close or a silence means.
 */
import type { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { BACKEND_TABLE, PROTOCOL_3_0, type BackendMessage } from '../../generated/index.js';
import { StreamDecoder } from '../../runtime/wire/index.js';

export class BackendReader {
  readonly decoder = new StreamDecoder<BackendMessage>(BACKEND_TABLE, { context: { protocolVersion: PROTOCOL_3_0 } });
  /** The server closed (or the socket failed): what the decoder holds is all there will be. */
  ended = false;
  /** Number of 'data' events seen: how many chunks the server's output arrived in (an upper bound on its writes). */
  chunks = 0;
  /** Bytes received in total. */
  bytes = 0;
  private waiters: (() => void)[] = [];

  constructor(public socket: Socket) {
    this.attach(socket);
  }

  set protocolVersion(v: number) {
    this.decoder.context = { ...this.decoder.context, protocolVersion: v };
  }

  /** Waits for more bytes or the end, until `deadline` (a Date.now() value); false when the deadline had passed. */
  async waitUntil(deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    return true;
  }

  /** Runs TLS over the socket (after the server's 'S') and reads from the TLS socket from then on. */
  async startTls(options: ConnectionOptions): Promise<TLSSocket> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, ...options });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.chunks++;
      this.bytes += chunk.length;
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
}
