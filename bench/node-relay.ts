/**
 * A bare Node.js TCP relay: every client connection gets its own connection to the upstream, and
 * bytes are piped both ways unread. It does none of a proxy's work (no framing, decoding, state
 * checks or re-encoding), so its speed is the floor for any proxy written on Node's sockets: the
 * benchmark prints it beside the pgspec proxy and PgBouncer to show how much of the gap to a C
 * proxy is the platform's.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface NodeRelay {
  readonly port: number;
  close(): Promise<void>;
}

export async function startNodeRelay(upstreamPort: number): Promise<NodeRelay> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
