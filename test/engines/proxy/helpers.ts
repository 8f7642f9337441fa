/** A proxy server in front of a throwaway PostgreSQL, and a TCP relay a test can cut. */
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { expect } from 'vitest';
import pg from 'pg';
import { PgServer } from '../../../runtime/server/server.js';
import { ProxyEngine, type ProxyEngineOptions, type ViolationReport } from '../../../runtime/engines/proxy/index.js';

export interface RunningProxy {
  readonly server: PgServer;
  readonly engine: ProxyEngine;
  readonly port: number;
  readonly violations: ViolationReport[];
  close(): Promise<void>;
}

export async function startProxy(upstream: string, options: Partial<ProxyEngineOptions> = {}): Promise<RunningProxy> {
  const violations: ViolationReport[] = [];
  const engine = new ProxyEngine({ upstream, onViolation: (v) => violations.push(v), ...options });
  const server = new PgServer({ engine, listeners: [{ host: '127.0.0.1', port: 0 }] });
  const [addr] = await server.listen();
  return { server, engine, port: addr!.port!, violations, close: () => server.close() };
}

/** A byte relay to host:port whose live connections `cut()` destroys (an upstream that dies). */
export async function startRelay(host: string, port: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = connect({ host, port });
    sockets.add(client).add(up);
    client.pipe(up);
    up.pipe(client);
    const drop = (): void => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A new client connects through the proxy on `port` and runs a query: the server is still serving. */
export async function expectServing(port: number): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    expect((await c.query('select 42 as n')).rows).toEqual([{ n: 42 }]);
  } finally {
    await c.end();
  }
}
