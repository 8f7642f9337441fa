/**
 * A scripted upstream server for the proxy: it speaks the protocol through the generated codecs
 * (trust login, then every Query goes to the script), so a test can make the upstream do what a
 * real PostgreSQL only does by accident: die between CommandComplete and ReadyForQuery, or break
 * the protocol.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FRONTEND_TABLE, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import { BASE_CODECS } from '../../../runtime/protocol/extension.js';
import { StreamDecoder, Writer } from '../../../runtime/wire/index.js';

/** What the script can do with the connection a Query came on. */
export interface FakeReply {
  /** Sends backend messages, in one write. */
  send(messages: readonly BackendMessage[]): void;
  /** Drops the connection at once (the backend process died). */
  die(): void;
}

export interface FakeUpstream {
  readonly port: number;
  /** Every Query received, in order, over all connections. */
  readonly queries: string[];
  close(): Promise<void>;
}

/** ReadyForQuery with the transaction status PostgreSQL would report after this command. */
export const ready = (status: 'I' | 'T' | 'E'): BackendMessage => ({ type: 'ReadyForQuery', status });

export async function startFakeUpstream(script: (query: string, reply: FakeReply) => void): Promise<FakeUpstream> {
  const sockets = new Set<Socket>();
  const queries: string[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = new StreamDecoder<FrontendMessage>(FRONTEND_TABLE, { framing: 'startup' });
    const reply: FakeReply = {
      send: (messages) => {
        const w = new Writer(256);
        for (const m of messages) BASE_CODECS.encodeBackend(w, m);
        if (!socket.destroyed) socket.write(w.take());
      },
      die: () => socket.destroy(),
    };
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let m = decoder.next(); m !== undefined; m = decoder.next()) {
        if (m.type === 'StartupMessage') {
          decoder.framing = 'typed';
          reply.send([
            { type: 'AuthenticationOk' },
            { type: 'ParameterStatus', name: 'server_version', value: '15.0' },
            { type: 'BackendKeyData', processId: 7, secretKey: Buffer.from([1, 2, 3, 4]) },
            ready('I'),
          ]);
        } else if (m.type === 'Query') {
          queries.push(m.query);
          script(m.query, reply);
        } else if (m.type === 'Terminate') {
          socket.end();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    queries,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
