/**
 * A scripted backend for client tests: it decodes what the client sends with the generated
 * frontend tables and answers whatever the script writes, including bytes no real server would
 * send (messages out of state, malformed bodies).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FRONTEND_TABLE, encodeBackend, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import { StreamDecoder, Writer } from '../../../runtime/wire/index.js';
import type { ExtendProtocol } from '../../../generated/extensions/cloudberry-extend-protocol/index.js';
import { ProtocolCodecs, type ProtocolExtension } from '../../../runtime/protocol/extension.js';

export class FakeBackend {
  private readonly decoder = new StreamDecoder<FrontendMessage>(FRONTEND_TABLE, { framing: 'startup' });
  private readonly w = new Writer();
  private wake: (() => void) | undefined;
  private ended = false;
  /** Which 'p' message the script expects next (the type byte alone does not tell). */
  expectP = 'PasswordMessage';

  constructor(
    readonly socket: Socket,
    private readonly codecs: ProtocolCodecs,
  ) {
    socket.on('data', (d: Buffer) => {
      this.decoder.push(d);
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  /** The next frontend message; undefined when the client has gone. */
  async read(): Promise<FrontendMessage | undefined> {
    for (;;) {
      this.decoder.context = { protocolVersion: 196608, contextual: { p: this.expectP } };
      const m = this.decoder.next();
      if (m !== undefined) {
        if (m.type === 'StartupMessage') this.decoder.framing = 'typed';
        return m;
      }
      if (this.ended) return undefined;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Reads until a message of this type arrives (the rest is dropped). */
  async readUntil(type: FrontendMessage['type']): Promise<FrontendMessage | undefined> {
    for (;;) {
      const m = await this.read();
      if (m === undefined || m.type === type) return m;
    }
  }

  send(...messages: (BackendMessage | ExtendProtocol)[]): void {
    for (const m of messages) this.codecs.encodeBackend(this.w, m);
    this.socket.write(this.w.take());
  }

  raw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Answers a plaintext trust login (refusing TLS) up to ReadyForQuery. */
  async trustLogin(): Promise<void> {
    let m = await this.read();
    if (m?.type === 'SSLRequest') {
      this.send({ type: 'SSLRejected' });
      m = await this.read();
    }
    if (m?.type !== 'StartupMessage') throw new Error(`expected a StartupMessage, got ${m?.type}`);
    this.send(
      { type: 'AuthenticationOk' },
      { type: 'ParameterStatus', name: 'server_version', value: '15.0 (fake)' },
      { type: 'BackendKeyData', processId: 42, secretKey: new Uint8Array([1, 2, 3, 4]) },
      { type: 'ReadyForQuery', status: 'I' },
    );
  }
}

export interface FakeServer {
  readonly port: number;
  /** Every script's outcome, to await at the end of a test. */
  readonly sessions: Promise<void>[];
  close(): Promise<void>;
}

/** Runs `script` for every connection. */
export async function startFakeServer(script: (b: FakeBackend) => Promise<void>, extensions: readonly ProtocolExtension[] = []): Promise<FakeServer> {
  const codecs = new ProtocolCodecs(extensions);
  const sessions: Promise<void>[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    sessions.push(script(new FakeBackend(socket, codecs)).finally(() => socket.end()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
