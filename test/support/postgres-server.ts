/**
 * A throwaway PostgreSQL 15 server for tests and fixture captures.
 *
 * Every call to `startPostgres()` runs initdb in a fresh directory under /tmp,
 * starts a postmaster on a free 127.0.0.1 port with durability switched off, and
 * returns a handle whose `stop()` kills it (`pg_ctl -m immediate`) and deletes the
 * directory. Servers that are still running when the process exits are stopped
 * by an exit hook, so a crashed test does not leave a postmaster behind.
 *
 * initdb and postgres refuse to run as root; when this process is root they are
 * run as the `postgres` OS user through `runuser`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile, chmod, chown, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const execFileAsync = promisify(execFile);

/** Where the PostgreSQL server binaries live; override with PGSPEC_PG_BIN. */
export const PG_BIN = process.env.PGSPEC_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** The authentication methods a pg_hba.conf line can name that these tests use. */
export type AuthMethod = 'trust' | 'password' | 'md5' | 'scram-sha-256' | 'reject';

export interface PostgresUser {
  name: string;
  /** Without a password only `trust` (or `reject`) logins can work. */
  password?: string;
  /**
   * The pg_hba method for this user, over TCP and the Unix socket.
   * Default: `scram-sha-256` when a password is given, else `trust`.
   * For `md5` the password is stored as an MD5 hash: PostgreSQL silently upgrades
   * an `md5` line to SCRAM when the stored secret is a SCRAM verifier.
   */
  auth?: AuthMethod;
  superuser?: boolean;
}

export type SettingValue = string | number | boolean;

export interface StartPostgresOptions {
  /** pg_hba method for every TCP connection not covered by `users`. Default `trust`. */
  auth?: AuthMethod;
  /** Roles to create (LOGIN, with CREATE on schema public) and their pg_hba lines. */
  users?: PostgresUser[];
  /** Turn on TLS with a throwaway self-signed certificate made by openssl. */
  ssl?: boolean;
  /** Extra postgresql.conf settings; they win over the harness defaults. */
  settings?: Record<string, SettingValue>;
  /** SQL run as the superuser once the server is up (after the users exist). */
  initSql?: string;
  /** How long to wait for the server to accept connections, in seconds. Default 30. */
  startTimeoutSeconds?: number;
}

export interface PostgresServer {
  host: '127.0.0.1';
  port: number;
  /** The superuser; it can always log in over the Unix socket without a password. */
  superuser: 'postgres';
  database: 'postgres';
  /** A connection URL for 127.0.0.1; user defaults to the superuser. */
  url(user?: string, password?: string, database?: string): string;
  /** The temporary directory holding everything: data dir, socket, log, certificate. */
  baseDir: string;
  dataDir: string;
  /** Directory of the Unix socket (`host=` for libpq). */
  socketDir: string;
  logFile: string;
  /** Present when `ssl` was requested: the self-signed certificate (also usable as a root CA). */
  sslCertFile?: string;
  /** Runs SQL with psql as the superuser over the Unix socket; resolves to stdout (unaligned, tuples only). */
  admin(sql: string): Promise<string>;
  /** The server log so far. */
  readLog(): string;
  /** Kills the server (immediate mode) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

interface Running {
  dataDir: string;
  baseDir: string;
  stopped: boolean;
}

const running = new Set<Running>();
let exitHookInstalled = false;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** uid/gid of the `postgres` OS user, looked up once. */
let postgresIds: { uid: number; gid: number } | undefined;
function postgresOwner(): { uid: number; gid: number } {
  if (postgresIds === undefined) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    postgresIds = { uid, gid };
  }
  return postgresIds;
}

/** argv that runs a server binary as the right OS user. */
function asServerUser(binary: string, args: string[]): [string, string[]] {
  const path = join(PG_BIN, binary);
  return isRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

async function runServerBinary(binary: string, args: string[]): Promise<string> {
  const [file, argv] = asServerUser(binary, args);
  try {
    const { stdout } = await execFileAsync(file, argv, { encoding: 'utf8', cwd: tmpdir(), timeout: 120_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${binary} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

async function giveToServerUser(path: string): Promise<void> {
  if (!isRoot) return;
  const { uid, gid } = postgresOwner();
  await chown(path, uid, gid);
}

function stopSync(record: Running): void {
  if (record.stopped) return;
  record.stopped = true;
  running.delete(record);
  try {
    const [file, argv] = asServerUser('pg_ctl', ['stop', '-D', record.dataDir, '-m', 'immediate', '-w', '-s']);
    execFileSync(file, argv, { stdio: 'ignore', cwd: tmpdir(), timeout: 30_000 });
  } catch {
    // Already gone, or never started; removing the directory is all that is left.
  }
  rmSync(record.baseDir, { recursive: true, force: true });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const stopAll = (): void => {
    for (const record of [...running]) stopSync(record);
  };
  process.on('exit', stopAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopAll();
      // Let the default action (termination) happen now that the servers are gone.
      process.kill(process.pid, signal);
    });
  }
}

function formatSetting(value: SettingValue): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`;

function hbaLines(options: StartPostgresOptions): string {
  const defaultAuth = options.auth ?? 'trust';
  const lines = [
    '# Written by test/support/postgres-server.ts',
    '# TYPE  DATABASE  USER  ADDRESS  METHOD',
    // The harness administers the server as the superuser over the socket.
    'local all postgres trust',
  ];
  for (const user of options.users ?? []) {
    const method = userAuth(user);
    lines.push(`local all ${quoteIdent(user.name)} ${method}`);
    lines.push(`host all ${quoteIdent(user.name)} 127.0.0.1/32 ${method}`);
  }
  lines.push(`local all all ${defaultAuth}`);
  lines.push(`host all all 127.0.0.1/32 ${defaultAuth}`);
  return lines.join('\n') + '\n';
}

function userAuth(user: PostgresUser): AuthMethod {
  return user.auth ?? (user.password === undefined ? 'trust' : 'scram-sha-256');
}

function usersSql(users: PostgresUser[]): string {
  const statements: string[] = [];
  for (const user of users) {
    // An md5 pg_hba line needs an MD5-hashed secret, otherwise SCRAM is used instead.
    const encryption = userAuth(user) === 'md5' ? 'md5' : 'scram-sha-256';
    statements.push(`SET password_encryption = ${quoteLiteral(encryption)};`);
    const password = user.password === undefined ? '' : ` PASSWORD ${quoteLiteral(user.password)}`;
    const superuser = user.superuser ? ' SUPERUSER' : '';
    statements.push(`CREATE ROLE ${quoteIdent(user.name)} LOGIN${superuser}${password};`);
    statements.push(`GRANT ALL ON SCHEMA public TO ${quoteIdent(user.name)};`);
  }
  statements.push('RESET password_encryption;');
  return statements.join('\n');
}

async function makeCertificate(baseDir: string): Promise<{ cert: string; key: string }> {
  const cert = join(baseDir, 'server.crt');
  const key = join(baseDir, 'server.key');
  await execFileAsync(
    'openssl',
    [
      'req', '-x509', '-nodes', '-days', '2',
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', key, '-out', cert,
    ],
    { timeout: 30_000 },
  );
  // PostgreSQL refuses a key file that others can read.
  await chmod(key, 0o600);
  await giveToServerUser(key);
  await giveToServerUser(cert);
  return { cert, key };
}

/** Starts a throwaway PostgreSQL server. Always `stop()` it (in `afterAll`). */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  installExitHook();
  const baseDir = mkdtempSync(join(tmpdir(), 'pgspec-pg-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'postgres.log');
  const record: Running = { dataDir, baseDir, stopped: false };
  running.add(record);

  try {
    chmodSync(baseDir, 0o700);
    if (isRoot) {
      const { uid, gid } = postgresOwner();
      chownSync(baseDir, uid, gid);
    }

    await runServerBinary('initdb', [
      '-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ]);

    let sslCertFile: string | undefined;
    const settings: Record<string, SettingValue> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: baseDir,
      // Durability is pointless for a server that lives for one test file.
      fsync: false,
      synchronous_commit: false,
      full_page_writes: false,
      wal_level: 'minimal',
      max_wal_senders: 0,
      autovacuum: false,
      shared_buffers: '32MB',
      max_connections: 60,
      // Deterministic ParameterStatus values and messages in captures.
      timezone: 'UTC',
      log_timezone: 'UTC',
      datestyle: 'ISO, MDY',
      lc_messages: 'C',
      log_min_messages: 'warning',
      log_connections: false,
    };
    if (options.ssl) {
      const { cert, key } = await makeCertificate(baseDir);
      Object.assign(settings, { ssl: true, ssl_cert_file: cert, ssl_key_file: key });
      sslCertFile = cert;
    }
    Object.assign(settings, options.settings ?? {});

    await writeFile(join(dataDir, 'pg_hba.conf'), hbaLines(options));

    const port = await startOnFreePort(dataDir, logFile, settings, options.startTimeoutSeconds ?? 30);

    // promisified execFile cannot feed stdin, so admin SQL goes through a file.
    const adminSql = async (sql: string): Promise<string> => {
      const file = join(baseDir, `admin-${process.hrtime.bigint()}.sql`);
      await writeFile(file, sql);
      try {
        const { stdout } = await execFileAsync(
          'psql',
          ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', baseDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-f', file],
          { encoding: 'utf8', timeout: 60_000 },
        );
        return stdout;
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`psql (admin) failed: ${e.message}\n${e.stderr ?? ''}`);
      } finally {
        rmSync(file, { force: true });
      }
    };

    if (options.users && options.users.length > 0) await adminSql(usersSql(options.users));
    if (options.initSql) await adminSql(options.initSql);

    return {
      host: '127.0.0.1',
      port,
      superuser: 'postgres',
      database: 'postgres',
      url(user = 'postgres', password?: string, database = 'postgres') {
        const auth = password === undefined
          ? encodeURIComponent(user)
          : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
        return `postgres://${auth}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
      },
      baseDir,
      dataDir,
      socketDir: baseDir,
      logFile,
      sslCertFile,
      admin: adminSql,
      readLog: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
      stop: async () => stopSync(record),
    };
  } catch (err) {
    stopSync(record);
    throw err;
  }
}

/** Writes the port into postgresql.conf and starts; retries when another process grabbed the port. */
async function startOnFreePort(
  dataDir: string,
  logFile: string,
  settings: Record<string, SettingValue>,
  timeoutSeconds: number,
): Promise<number> {
  const confFile = join(dataDir, 'postgresql.conf');
  const original = readFileSync(confFile, 'utf8');
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    const lines = Object.entries({ ...settings, port }).map(([name, value]) => `${name} = ${formatSetting(value)}`);
    writeFileSync(confFile, original);
    await appendFile(confFile, `\n# pgspec test harness\n${lines.join('\n')}\n`);
    try {
      await runServerBinary('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', String(timeoutSeconds), '-s']);
      return port;
    } catch (err) {
      lastError = err;
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      if (!/could not bind|Address already in use/i.test(log)) {
        throw new Error(`${(err as Error).message}\n--- server log ---\n${log}`);
      }
    }
  }
  throw lastError;
}
