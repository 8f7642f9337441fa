/**
 * Just enough of the frontend side of the protocol to log in with pgspec's auth primitives against
 * a real server: StartupMessage, optional SSLRequest, the Authentication exchange. Test-only.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface Message {
  readonly type: string;
  readonly body: Buffer;
}

export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    /** DER of the server's certificate when connected over TLS. */
    readonly peerCertificate?: Buffer,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    const end = () => {
      this.closed = true;
      this.wake();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static async open(port: number, options: { ssl?: boolean } = {}): Promise<RawConnection> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    if (!options.ssl) return new RawConnection(socket);
    const request = Buffer.alloc(8);
    request.writeInt32BE(8, 0);
    request.writeInt32BE(80877103, 4);
    socket.write(request);
    const answer = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
    if (answer.toString('latin1') !== 'S') throw new Error(`server refused SSL: ${answer.toString('latin1')}`);
    const tls = tlsConnect({ socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
    return new RawConnection(tls, tls.getPeerCertificate().raw);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  async next(): Promise<Message> {
    for (;;) {
      if (this.buffer.length >= 5) {
        const length = this.buffer.readInt32BE(1);
        if (this.buffer.length >= 1 + length) {
          const message = { type: String.fromCharCode(this.buffer[0]!), body: this.buffer.subarray(5, 1 + length) };
          this.buffer = this.buffer.subarray(1 + length);
          return message;
        }
      }
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  send(type: string, ...parts: Buffer[]): void {
    const body = Buffer.concat(parts);
    const header = Buffer.alloc(5);
    header.write(type, 0, 'latin1');
    header.writeInt32BE(body.length + 4, 1);
    this.socket.write(Buffer.concat([header, body]));
  }

  startup(user: string, database = 'postgres'): void {
    const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`, 'utf8');
    const head = Buffer.alloc(8);
    head.writeInt32BE(8 + params.length, 0);
    head.writeInt32BE(196608, 4);
    this.socket.write(Buffer.concat([head, params]));
  }

  close(): void {
    this.socket.destroy();
  }
}

export function cstring(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

/** ErrorResponse fields by code letter. */
export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    fields[String.fromCharCode(body[i]!)] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return fields;
}

/** Authentication request code of an 'R' message. */
export function authCode(message: Message): number {
  if (message.type !== 'R') throw new Error(`expected an Authentication message, got '${message.type}': ${JSON.stringify(errorFields(message.body))}`);
  return message.body.readInt32BE(0);
}
