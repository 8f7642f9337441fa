/**
 * A throwaway PostgreSQL 15 cluster for tests: initdb and postgres run as the `postgres` user in a
 * postgres-owned temp dir, listening on 127.0.0.1 and a unix socket in that dir only.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';

const BIN = '/usr/lib/postgresql/15/bin';

export function postgresAvailable(): boolean {
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'pipe' });
    return existsSync(join(BIN, 'postgres'));
  } catch {
    return false;
  }
}

export interface Cluster {
  readonly port: number;
  readonly socketDir: string;
  /** Runs SQL as the superuser over the unix socket (trust). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string): Promise<T[]>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startCluster(options: { hba: string; ssl?: { certPem: string; keyPem: string } }): Promise<Cluster> {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  const dir = mkdtempSync('/tmp/pgspec-auth-pg-');
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  let child: ChildProcess | undefined;
  try {
    execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, 'initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
      stdio: 'pipe',
    });
    const own = (path: string, contents: string, mode = 0o600) => {
      writeFileSync(path, contents);
      chownSync(path, uid, gid);
      chmodSync(path, mode);
    };
    own(join(data, 'pg_hba.conf'), options.hba);
    const args = ['-D', data, '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    if (options.ssl) {
      own(join(dir, 'server.crt'), options.ssl.certPem);
      own(join(dir, 'server.key'), options.ssl.keyPem);
      args.push('-c', 'ssl=on', '-c', `ssl_cert_file=${join(dir, 'server.crt')}`, '-c', `ssl_key_file=${join(dir, 'server.key')}`);
    }
    const port = await freePort();
    args.push('-p', String(port));
    const started = spawn('runuser', ['-u', 'postgres', '--', join(BIN, 'postgres'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`postgres did not start:\n${log}`)), 30_000);
      started.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`postgres exited with ${code}:\n${log}`));
      });
    });
    started.stderr!.resume();

    const stop = async (): Promise<void> => {
      const pidFile = join(data, 'postmaster.pid');
      if (started.exitCode === null && existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
        const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
        process.kill(pid, 'SIGINT'); // fast shutdown of the postmaster this helper started
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
      }
      rmSync(dir, { recursive: true, force: true });
    };

    return {
      port,
      socketDir: dir,
      async query(sql) {
        const client = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
        await client.connect();
        try {
          return (await client.query(sql)).rows;
        } finally {
          await client.end();
        }
      },
      stop,
    };
  } catch (error) {
    if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
