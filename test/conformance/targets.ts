/**
 * The servers a corpus runs against: PostgreSQL 15 itself (recording and a self-check), and
 * pgspec's runtime over the PGlite engine and over the proxy engine. Every target has the same
 * users, so one conversation logs in the same way everywhere.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../../runtime/engine.js';
import { PgServer } from '../../runtime/server/server.js';
import { makeCertificate } from '../auth/certificates.js';
import { startPostgres, type PostgresServer, type PostgresUser } from '../support/postgres-server.js';
import type { ServerAddress } from './run-conversation.js';

export interface Target extends ServerAddress {
  readonly name: string;
  /** Tags select allowances (`differs`) and exclusions (`unsupported`): "pg15", "pg18", "pgspec". */
  readonly tags: readonly string[];
  close(): Promise<void>;
}

/** The logins every target offers (see README.md). Every role is a superuser, as PGlite's one role is. */
export const USERS = {
  tester: { auth: 'trust' },
  pw_user: { auth: 'password', password: 'pw-secret' },
  md5_user: { auth: 'md5', password: 'md5-secret' },
  scram_user: { auth: 'scram-sha-256', password: 'scram-secret' },
} as const;

/** Roles not listed get a SCRAM exchange they cannot pass, so an unknown role fails like a wrong password. */
const OTHERS_PASSWORD = 'conformance-unknown-role-password';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The recording server: PostgreSQL 15 with TLS and the corpus users. */
export async function startReferencePostgres(): Promise<PostgresServer> {
  const users: PostgresUser[] = Object.entries(USERS).map(([name, u]) => ({
    name,
    auth: u.auth,
    superuser: true,
    ...('password' in u ? { password: u.password } : {}),
  }));
  return startPostgres({ users, auth: 'scram-sha-256', ssl: true });
}

export async function postgresTarget(pg: PostgresServer): Promise<Target> {
  return { name: 'postgres-15', tags: ['pg15', 'postgres'], host: pg.host, port: pg.port, close: async () => undefined };
}

function pgspecUsers(): string[] {
  return [
    ...Object.entries(USERS).map(([name, u]) => ('password' in u ? `${name}:${u.auth}:${u.password}` : `${name}:${u.auth}`)),
    `*:scram-sha-256:${OTHERS_PASSWORD}`,
  ];
}

async function pgspecTarget(name: string, tags: string[], engine: Engine): Promise<Target> {
  const cert = makeCertificate('ecdsa-sha256');
  const server = new PgServer({
    engine,
    users: pgspecUsers(),
    tls: { cert: cert.certPem, key: cert.keyPem },
    listeners: [{ host: '127.0.0.1', port: 0 }],
    onViolation: (r) => process.stderr.write(`conformance (${name}): server-side protocol violation in ${r.state}: ${r.detail}\n`),
  });
  const [address] = await server.listen();
  return { name, tags, host: '127.0.0.1', port: address!.port!, close: () => server.close() };
}

/** Why a target cannot be started, or the target. */
export type Maybe<T> = { ok: true; value: T } | { ok: false; reason: string };

export async function pgliteTarget(): Promise<Maybe<Target>> {
  if (!existsSync(join(ROOT, 'runtime/engines/pglite/index.ts'))) return { ok: false, reason: 'runtime/engines/pglite/index.ts does not exist' };
  try {
    const mod = (await import('../../runtime/engines/pglite/index.js')) as { PgliteEngine?: { create(): Promise<Engine> } };
    if (typeof mod.PgliteEngine?.create !== 'function') return { ok: false, reason: 'runtime/engines/pglite does not export PgliteEngine.create()' };
    const engine = await mod.PgliteEngine.create();
    return { ok: true, value: await pgspecTarget('pgspec+pglite', ['pgspec', 'pg18', 'pglite'], engine) };
  } catch (err) {
    return { ok: false, reason: `PGlite engine failed to start: ${(err as Error).message}` };
  }
}

/**
 * The proxy engine in front of a PostgreSQL 15 whose roles all log in by trust (pgspec
 * authenticates the client itself): `new ProxyEngine({ upstream: url })`, the URL without user or
 * database so the client's are used upstream.
 */
export async function proxyTarget(): Promise<Maybe<{ target: Target; upstream: PostgresServer }>> {
  const dir = join(ROOT, 'runtime/engines/proxy');
  if (!existsSync(join(dir, 'index.ts'))) return { ok: false, reason: 'runtime/engines/proxy/index.ts does not exist' };
  let upstream: PostgresServer | undefined;
  try {
    const mod = (await import(join(dir, 'index.ts'))) as Record<string, unknown>;
    type Ctor = { new (o: unknown): Engine; create?: (o: unknown) => Promise<Engine> };
    const ctor = (mod.ProxyEngine ?? Object.entries(mod).find(([k]) => /Engine$/.test(k))?.[1]) as Ctor | undefined;
    if (typeof ctor !== 'function') return { ok: false, reason: 'runtime/engines/proxy exports no ProxyEngine' };
    upstream = await startPostgres({
      users: Object.keys(USERS).map((name) => ({ name, auth: 'trust', superuser: true })),
      auth: 'trust',
    });
    // No user or database in the URL: the client's are used upstream.
    const options = { upstream: `postgres://${upstream.host}:${upstream.port}?sslmode=disable` };
    const engine = typeof ctor.create === 'function' ? await ctor.create(options) : new ctor(options);
    const target = await pgspecTarget('pgspec+proxy', ['pgspec', 'pg15', 'proxy'], engine);
    const up = upstream;
    return { ok: true, value: { target: { ...target, close: async () => { await target.close(); await up.stop(); } }, upstream: up } };
  } catch (err) {
    await upstream?.stop();
    return { ok: false, reason: `proxy engine failed to start: ${(err as Error).message}` };
  }
}
