/**
 * A pgspec server: listeners (TCP or Unix sockets), each bound to a registered wire protocol, over
 * one engine, one user table, one cancel-key table and one shutdown.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { STARTUP_TIMEOUT_MS } from '../../generated/index.js';
import { UserTable, parseUserSpec, type UserEntry } from '../auth/index.js';
import type { Engine } from '../engine.js';
import { CancelRegistry } from './cancel-registry.js';
import { Connection } from './connection.js';
import { postgresProtocol } from './postgres-protocol.js';
import { SessionSlots } from './session-slots.js';
import { ProtocolRegistry, type ProtocolConnection, type SharedServices, type WireProtocol } from './protocol-registry.js';
import { tlsSettings, type TlsOptions } from './tls-settings.js';

/** How long a shutdown waits for sessions to end before closing the engine under them. */
const ENGINE_CLOSE_AFTER_MS = 5000;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export interface ListenerOptions {
  /** The registered protocol this listener speaks (default "postgresql"). */
  readonly protocol?: string;
  readonly host?: string;
  /** 0 or absent picks a free port. */
  readonly port?: number;
  /** A Unix socket path instead of host/port. */
  readonly path?: string;
}

export interface ServerOptions {
  readonly engine: Engine;
  /** Users and their authentication methods; default: everyone by trust. */
  readonly users?: UserTable | readonly (UserEntry | string)[];
  readonly tls?: TlsOptions;
  readonly listeners?: readonly ListenerOptions[];
  /** Protocols besides PostgreSQL's own, which is always registered as "postgresql" unless given here. */
  readonly protocols?: readonly WireProtocol[];
  readonly startupTimeoutMs?: number;
  /**
   * The most sessions at once (PostgreSQL's max_connections): one more gets FATAL 53300 "sorry,
   * too many clients already" after its StartupMessage. Default: no limit.
   */
  readonly maxConnections?: number;
  /** Where protocol-state violations by the server side are reported (default: stderr). */
  readonly onViolation?: SharedServices['reportViolation'];
}

export interface ListeningAddress {
  readonly protocol: string;
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
}

export class PgServer {
  readonly registry = new ProtocolRegistry();
  readonly services: SharedServices;
  private readonly servers: { server: Server; protocol: string }[] = [];
  private readonly connections = new Set<ProtocolConnection>();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: ServerOptions) {
    for (const p of options.protocols ?? []) this.registry.register(p);
    if (!this.registry.names.includes('postgresql')) this.registry.register(postgresProtocol());
    const users =
      options.users instanceof UserTable
        ? options.users
        : new UserTable((options.users ?? ['*:trust']).map((u) => (typeof u === 'string' ? parseUserSpec(u) : u)));
    this.services = {
      engine: options.engine,
      users,
      cancels: new CancelRegistry(),
      tls: options.tls ? tlsSettings(options.tls) : undefined,
      startupTimeoutMs: options.startupTimeoutMs ?? STARTUP_TIMEOUT_MS,
      sessionSlots: new SessionSlots(options.maxConnections ?? Infinity),
      reportViolation: options.onViolation ?? ((r) => process.stderr.write(`pgspec: protocol violation by the server (${r.protocol}) in state ${r.state}: ${r.detail}\n`)),
    };
  }

  /** Opens every listener; resolves with their addresses. */
  async listen(): Promise<ListeningAddress[]> {
    const specs = this.options.listeners ?? [{ host: '127.0.0.1', port: 5432 }];
    const out: ListeningAddress[] = [];
    for (const spec of specs) {
      const protocolName = spec.protocol ?? 'postgresql';
      const protocol = this.registry.get(protocolName);
      const server = createServer({ noDelay: true }, (socket) => this.accept(protocol, socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        if (spec.path) server.listen(spec.path, resolve);
        else server.listen(spec.port ?? 0, spec.host ?? '127.0.0.1', resolve);
      });
      this.servers.push({ server, protocol: protocolName });
      const addr = server.address();
      out.push(typeof addr === 'string' ? { protocol: protocolName, path: addr } : { protocol: protocolName, host: (addr as AddressInfo).address, port: (addr as AddressInfo).port });
    }
    return out;
  }

  private accept(protocol: WireProtocol, socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.on('error', () => undefined);
    const conn = new Connection(protocol, socket, this.services);
    this.connections.add(conn);
    void conn.done.finally(() => this.connections.delete(conn));
  }

  /** Live client connections, across all listeners. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops listening, ends every session (cancelling in-flight work), then closes the engine. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // A listener's close callback waits for its connections to end, so end them while it waits.
      const stopped = this.servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
      const sessions = Promise.all([...this.connections].map((c) => c.shutdown()));
      // A session whose engine call never returns (an upstream that stopped answering) must not
      // hold the shutdown: after a while the engine is closed under it, which ends such calls.
      const ended = await Promise.race([sessions.then(() => true), delay(ENGINE_CLOSE_AFTER_MS).then(() => false)]);
      await this.options.engine.close();
      if (!ended) await Promise.race([sessions, delay(ENGINE_CLOSE_AFTER_MS)]);
      await Promise.race([Promise.all(stopped), delay(ENGINE_CLOSE_AFTER_MS)]);
    })();
    return this.closing;
  }
}
