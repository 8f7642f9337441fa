/** Where the proxy connects: a `postgres://user:password@host:port/database?sslmode=...` URL, read once. */
import type { TlsMode } from '../../client/options.js';

export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  /** Absent: the client's user name is used upstream. */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Absent: the database the client asked for. */
  readonly database: string | undefined;
  /** From `sslmode` (disable, prefer, require; verify-* count as require); default prefer. */
  readonly tls: TlsMode;
}

export function parseUpstreamUrl(url: string): UpstreamTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`upstream: not a URL: ${url}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new TypeError(`upstream: expected a postgres:// URL, got ${u.protocol}//`);
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = u.port === '' ? 5432 : Number(u.port);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const sslmode = u.searchParams.get('sslmode') ?? 'prefer';
  let tls: TlsMode;
  if (sslmode === 'disable' || sslmode === 'allow') tls = 'disable';
  else if (sslmode === 'prefer') tls = 'prefer';
  else if (sslmode === 'require' || sslmode === 'verify-ca' || sslmode === 'verify-full') tls = 'require';
  else throw new TypeError(`upstream: unknown sslmode ${sslmode}`);
  return {
    host,
    port,
    user: u.username === '' ? undefined : decodeURIComponent(u.username),
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    database: database === '' ? undefined : database,
    tls,
  };
}
