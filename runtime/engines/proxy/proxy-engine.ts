/**
 * The proxy engine: each client session the runtime authenticates gets its own session on an
 * upstream PostgreSQL-protocol server, logged in with the configured credentials. Both streams are
 * decoded and re-encoded through the generated codecs and checked against the state machine on
 * both sides (the runtime checks the client side and what the proxy sends it; the upstream side
 * has its own state machine here).
 */
import type { ConnectionOptions } from 'node:tls';
import type { Engine, EngineSession, SessionEvents, SessionStart } from '../../engine.js';
import type { TlsMode } from '../../client/options.js';
import { ProxySession, type ViolationReport } from './proxy-session.js';
import { UpstreamConnection } from './upstream.js';
import { parseUpstreamUrl, type UpstreamTarget } from './upstream-url.js';

export interface ProxyEngineOptions {
  /**
   * `postgres://user:password@host:port/database?sslmode=prefer`. Without a user the client's user
   * name is used upstream; without a database, the database the client asked for.
   */
  readonly upstream: string;
  /** TLS to the upstream: `mode` overrides the URL's sslmode; the rest is passed to `tls.connect`. */
  readonly tls?: ConnectionOptions & { readonly mode?: TlsMode };
  /** Give up connecting and logging in upstream after this long; default 30 s. */
  readonly connectTimeoutMs?: number;
  /** Called when either side breaks the protocol (also written to stderr); the session then ends with 08P01. */
  readonly onViolation?: (report: ViolationReport) => void;
}

export class ProxyEngine implements Engine {
  readonly name = 'proxy';
  readonly target: UpstreamTarget;
  private readonly sessions = new Set<ProxySession>();
  /** The process id the runtime gave each live session, by its upstream backend's process id. */
  private readonly clientPids = new Map<number, number>();

  constructor(private readonly options: ProxyEngineOptions) {
    this.target = parseUpstreamUrl(options.upstream);
  }

  async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
    const t = this.target;
    const { mode, ...tlsOptions } = this.options.tls ?? {};
    const upstream = await UpstreamConnection.connect({
      host: t.host,
      port: t.port,
      user: t.user ?? start.user,
      password: t.password,
      database: t.database ?? start.database,
      parameters: start.parameters,
      protocolVersion: start.protocolVersion,
      tls: mode ?? t.tls,
      tlsOptions: { rejectUnauthorized: tlsOptions.ca !== undefined, ...tlsOptions },
      connectTimeoutMs: this.options.connectTimeoutMs ?? 30_000,
    });
    const upstreamPid = upstream.processId;
    this.clientPids.set(upstreamPid, start.processId);
    const session = new ProxySession(upstream, {
      events,
      report: (r) => this.reportViolation(r),
      // A NOTIFY names the backend that sent it: the client knows ours by the runtime's process id.
      clientProcessId: (pid) => this.clientPids.get(pid),
    });
    this.sessions.add(session);
    void session.ended.then(() => {
      this.sessions.delete(session);
      this.clientPids.delete(upstreamPid);
    });
    return session;
  }

  /** Live upstream sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.close()));
  }

  private reportViolation(r: ViolationReport): void {
    process.stderr.write(`pgspec proxy: protocol violation by the ${r.by} in upstream state ${r.state}: ${r.message}: ${r.detail}\n`);
    this.options.onViolation?.(r);
  }
}
