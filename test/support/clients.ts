/**
 * The real PostgreSQL clients the tests talk to, how to tell whether each one is
 * installed, how to install it, and helpers that run the external ones.
 *
 * Tests wrap their real-client suites in `describeWithClient()`:
 *   - client present            → an ordinary `describe`;
 *   - missing and CI=true       → one failing test that names the install command;
 *   - missing outside CI        → skipped, and listed in the
 *                                 "real clients skipped: …" line printed at the end of the run
 *                                 (see test/support/client-skips.ts).
 *
 * See /work/shared/reference/clients.md for what each client sends.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { recordClientSkip } from './client-skips.js';
import { assertSucceeded, runProcess, type RunOptions, type RunResult } from './run-process.js';

export { runProcess, assertSucceeded, type RunOptions, type RunResult } from './run-process.js';

/** The interpreter the Debian python3-* client packages are installed for (not a pyenv shim). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const PGJDBC_JAR = '/usr/share/java/postgresql.jar';
/** Debian's golang-*-dev packages install sources here, for GOPATH-mode builds. */
export const DEBIAN_GOPATH = '/usr/share/gocode';

export type ClientName = 'psql' | 'pgbench' | 'psycopg' | 'asyncpg' | 'pgjdbc' | 'pgx' | 'node-pg' | 'postgres.js';

export interface RealClient {
  name: ClientName;
  description: string;
  /** The exact command that installs it on this project's machines (Debian bookworm, as root). */
  install: string;
  /** Whether it can run here. Cached after the first call. */
  detect(): boolean;
}

const require = createRequire(import.meta.url);

function succeeds(file: string, args: string[]): boolean {
  const result = spawnSync(file, args, { stdio: 'ignore', timeout: 20_000 });
  return result.status === 0;
}

function resolves(moduleName: string): boolean {
  try {
    require.resolve(moduleName);
    return true;
  } catch {
    return false;
  }
}

function cached(check: () => boolean): () => boolean {
  let value: boolean | undefined;
  return () => (value ??= check());
}

const APT = 'apt-get install -y --no-install-recommends';

export const CLIENTS: Readonly<Record<ClientName, RealClient>> = {
  psql: {
    name: 'psql',
    description: 'psql 15 (libpq)',
    install: `${APT} postgresql-client`,
    detect: cached(() => succeeds('psql', ['--version'])),
  },
  pgbench: {
    name: 'pgbench',
    description: 'pgbench 15 (libpq)',
    install: `${APT} postgresql-client`,
    detect: cached(() => succeeds('pgbench', ['--version'])),
  },
  psycopg: {
    name: 'psycopg',
    description: 'psycopg 3 for /usr/bin/python3',
    install: `${APT} python3-psycopg`,
    detect: cached(() => succeeds(SYSTEM_PYTHON, ['-c', 'import psycopg'])),
  },
  asyncpg: {
    name: 'asyncpg',
    description: 'asyncpg for /usr/bin/python3',
    install: `${APT} python3-asyncpg`,
    detect: cached(() => succeeds(SYSTEM_PYTHON, ['-c', 'import asyncpg'])),
  },
  pgjdbc: {
    name: 'pgjdbc',
    description: 'pgJDBC (Debian jar) on a JDK',
    install: `${APT} libpostgresql-jdbc-java openjdk-17-jdk-headless`,
    detect: cached(() => existsSync(PGJDBC_JAR) && succeeds('javac', ['-version']) && succeeds('java', ['-version'])),
  },
  pgx: {
    name: 'pgx',
    description: 'pgx v4 (Go, GOPATH mode)',
    install: `${APT} golang-go golang-github-jackc-pgx-v4-dev`,
    detect: cached(
      () => existsSync(join(DEBIAN_GOPATH, 'src/github.com/jackc/pgx/v4')) && succeeds('go', ['version']),
    ),
  },
  'node-pg': {
    name: 'node-pg',
    description: 'node-postgres (pg, pure JS)',
    install: 'npm ci',
    detect: cached(() => resolves('pg')),
  },
  'postgres.js': {
    name: 'postgres.js',
    description: 'postgres.js (postgres)',
    install: 'npm ci',
    detect: cached(() => resolves('postgres')),
  },
};

/** Every requested client that is not installed. */
export function missingClients(names: readonly ClientName[]): RealClient[] {
  return names.map((name) => CLIENTS[name]).filter((client) => !client.detect());
}

/**
 * `describe` for a suite that needs one or more real clients.
 * Present → normal suite. Missing → failing test on CI, recorded skip elsewhere.
 */
export function describeWithClient(
  clients: ClientName | readonly ClientName[],
  title: string,
  fn: () => void,
): void {
  const names = typeof clients === 'string' ? [clients] : clients;
  const missing = missingClients(names);
  if (missing.length === 0) {
    describe(title, fn);
    return;
  }
  const how = missing.map((c) => `${c.name} (install: ${c.install})`).join(', ');
  if (process.env.CI === 'true') {
    describe(title, () => {
      it('has its real clients installed', () => {
        throw new Error(`real client missing on CI: ${how}`);
      });
    });
    return;
  }
  for (const client of missing) recordClientSkip({ client: client.name, install: client.install, suite: title });
  describe.skip(`${title} [missing: ${missing.map((c) => c.name).join(', ')}]`, fn);
}

// ---------------------------------------------------------------------------
// Running the external clients

/** Build outputs (Java classes, Go binaries), keyed by a hash of their source. */
const CACHE_ROOT = process.env.PGSPEC_CLIENT_CACHE ?? join(tmpdir(), 'pgspec-client-cache');

function hashOf(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * Builds into a scratch directory and renames it into place, so concurrent
 * test processes building the same source never see half a build.
 */
async function buildOnce(dir: string, build: (scratch: string) => Promise<void>): Promise<string> {
  if (existsSync(dir)) return dir;
  mkdirSync(CACHE_ROOT, { recursive: true });
  const scratch = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  mkdirSync(scratch, { recursive: true });
  try {
    await build(scratch);
    try {
      renameSync(scratch, dir);
    } catch {
      // Another process finished the same build first; theirs is identical.
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return dir;
}

/** psql with no ~/.psqlrc. Connection comes from args or PG* variables in `options.env`. */
export function runPsql(args: readonly string[], input?: string, options: RunOptions = {}): Promise<RunResult> {
  return runProcess('psql', ['-X', ...args], { ...options, input: input ?? options.input });
}

/**
 * pgbench; with `script`, the custom script is written to a temporary file and
 * passed as `-f` (pgbench cannot read /dev/stdin when stdin is a socket pair).
 */
export async function runPgbench(
  args: readonly string[],
  options: RunOptions & { script?: string } = {},
): Promise<RunResult> {
  const { script, ...runOptions } = options;
  if (script === undefined) return runProcess('pgbench', args, runOptions);
  const dir = mkdtempSync(join(tmpdir(), 'pgspec-pgbench-'));
  const file = join(dir, 'script.sql');
  writeFileSync(file, script);
  try {
    return await runProcess('pgbench', [...args, '-f', file], runOptions);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs Python source with the system interpreter (where psycopg and asyncpg live). */
export function runPython(code: string, env: Record<string, string | undefined> = {}, options: RunOptions = {}): Promise<RunResult> {
  return runProcess(SYSTEM_PYTHON, ['-c', code], { ...options, env: { ...options.env, ...env } });
}

/**
 * Compiles a Java source (with pgJDBC on the classpath) once per distinct source,
 * then runs its class. The class is the first `class Name` in the source.
 */
export async function runJava(source: string, args: readonly string[] = [], options: RunOptions = {}): Promise<RunResult> {
  const className = /\bclass\s+([A-Za-z_$][\w$]*)/.exec(source)?.[1];
  if (className === undefined) throw new Error('runJava: no class declaration in the source');
  const jarStamp = existsSync(PGJDBC_JAR) ? String(statSync(PGJDBC_JAR).mtimeMs) : 'no-jar';
  const dir = join(CACHE_ROOT, `java-${hashOf(source, jarStamp)}`);
  await buildOnce(dir, async (scratch) => {
    const file = join(scratch, `${className}.java`);
    writeFileSync(file, source);
    assertSucceeded(
      await runProcess('javac', ['-nowarn', '-cp', PGJDBC_JAR, '-d', scratch, file], { timeoutMs: 120_000 }),
    );
  });
  return runProcess('java', ['-cp', `${PGJDBC_JAR}:${dir}`, className, ...args], options);
}

/**
 * Builds a Go `package main` source in GOPATH mode against Debian's packaged
 * modules (pgx v4 among them), once per distinct source, and runs the binary.
 */
export async function runGo(source: string, env: Record<string, string | undefined> = {}, options: RunOptions = {}): Promise<RunResult> {
  const dir = join(CACHE_ROOT, `go-${hashOf(source)}`);
  const gocache = process.env.GOCACHE ?? join(CACHE_ROOT, 'go-build');
  await buildOnce(dir, async (scratch) => {
    const pkg = join(scratch, 'src', 'pgspecprobe');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'main.go'), source);
    assertSucceeded(
      await runProcess('go', ['build', '-o', join(scratch, 'probe'), '.'], {
        cwd: pkg,
        timeoutMs: 180_000,
        env: { GO111MODULE: 'off', GOPATH: `${scratch}:${DEBIAN_GOPATH}`, GOCACHE: gocache, GOFLAGS: '' },
      }),
    );
  });
  return runProcess(join(dir, 'probe'), [], { ...options, env: { ...options.env, ...env } });
}
