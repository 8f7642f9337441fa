/**
 * pgbench (`-M extended -S`, select-only on a small initialized database) directly against a
 * throwaway PostgreSQL 15, through pgspec's proxy engine, through PgBouncer in session mode, and
 * through a bare Node.js TCP relay (the floor for a proxy on Node: see node-relay.ts):
 * transactions per second for the four, relative to PostgreSQL directly, and CPU time per
 * transaction of the two proxies in this process. pgbench, PostgreSQL and PgBouncer run as
 * separate processes; the proxy and the relay run in this process. Nothing is asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { startPostgres } from '../test/support/postgres-server.js';
import { runPgbench } from '../test/support/clients.js';
import { freePort } from '../test/support/net.js';
import { PgServer } from '../runtime/server/server.js';
import { ProxyEngine } from '../runtime/engines/proxy/index.js';
import type { BenchOptions, BenchResult } from './harness.js';
import { startNodeRelay, type NodeRelay } from './node-relay.js';

export const name = 'pgbench through a proxy';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** One pgbench run: its tps, and how many transactions it ran. */
async function pgbench(port: number, seconds: number, clients: number): Promise<{ tps: number; transactions: number }> {
  const r = await runPgbench(['-M', 'extended', '-S', '-n', '-c', String(clients), '-j', '2', '-T', String(seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'postgres'], { timeoutMs: (seconds + 60) * 1000 });
  const m = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(r.stdout);
  const n = /number of transactions actually processed: (\d+)/.exec(r.stdout);
  if (r.exitCode !== 0 || !m || !n) throw new Error(`pgbench on port ${port} failed:\n${r.stderr}\n${r.stdout}`);
  return { tps: Number(m[1]), transactions: Number(n[1]) };
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** PgBouncer in session mode with trust auth, on a free port, from a generated ini. */
async function startPgbouncer(upstreamPort: number, poolSize: number): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pgspec-pgbouncer-'));
  const port = await freePort();
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `postgres = host=127.0.0.1 port=${upstreamPort} dbname=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir =`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = session',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 100',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      'ignore_startup_parameters = extra_float_digits',
      '',
    ].join('\n'),
  );
  if (isRoot) spawn('chown', ['-R', 'postgres', dir]);
  await new Promise((r) => setTimeout(r, 100));
  const args = [join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = isRoot ? spawn('runuser', ['-u', 'postgres', '--', 'pgbouncer', ...args], { stdio: 'ignore' }) : spawn('pgbouncer', args, { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? 2 : 10;
  const clients = 8;
  const pg = await startPostgres({ settings: { max_connections: 100 } });
  let proxy: PgServer | undefined;
  let bouncer: { port: number; stop(): Promise<void> } | undefined;
  let relay: NodeRelay | undefined;
  try {
    const init = await runPgbench(['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'postgres'], { timeoutMs: 120_000 });
    if (init.exitCode !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    proxy = new PgServer({ engine: new ProxyEngine({ upstream: `postgres://127.0.0.1:${pg.port}/?sslmode=disable` }), listeners: [{ port: 0 }] });
    const [addr] = await proxy.listen();
    bouncer = await startPgbouncer(pg.port, clients);
    relay = await startNodeRelay(pg.port);
    const targets: [string, number][] = [
      ['PostgreSQL direct', pg.port],
      ['pgspec proxy', addr!.port!],
      ['PgBouncer (session)', bouncer.port],
      ['Node.js TCP relay, no decoding', relay.port],
    ];
    // Alternate the targets run by run, so drift in machine load hits all alike; keep the median.
    const runs = options.runs ?? (options.quick ? 1 : 3);
    const seen = new Map<string, number[]>(targets.map(([label]) => [label, []]));
    // The proxy and the relay run in this process, which does nothing else meanwhile: their CPU
    // time per transaction is a figure that load from elsewhere on the machine disturbs far less than tps.
    const inProcess = new Map<number, number[]>([
      [addr!.port!, []],
      [relay.port, []],
    ]);
    for (let i = 0; i < runs; i++) {
      for (const [label, port] of targets) {
        const cpu = process.cpuUsage();
        const r = await pgbench(port, seconds, clients);
        const used = process.cpuUsage(cpu);
        inProcess.get(port)?.push((used.user + used.system) / r.transactions);
        seen.get(label)!.push(r.tps);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const base = median(seen.get('PostgreSQL direct')!);
    return {
      name,
      unit: 'tps',
      anchor: 'PostgreSQL direct',
      figures: targets.map(([label]) => {
        const v = median(seen.get(label)!);
        return { label, perSecond: v, ratio: v / base, ...(label === 'PostgreSQL direct' ? { anchor: true } : {}) };
      }),
      notes: [
        `pgbench -M extended -S -c ${clients} -j 2 -T ${seconds}, scale 1, median of ${runs} run(s) per target; proxy in this process, PgBouncer pool_mode=session`,
        `CPU time per transaction (this process, user + system, median of ${runs} run(s)): pgspec proxy ${median(inProcess.get(addr!.port!)!).toFixed(1)} µs, Node.js relay ${median(inProcess.get(relay.port)!).toFixed(1)} µs`,
        `pgspec proxy vs PgBouncer ${(median(seen.get('pgspec proxy')!) / median(seen.get('PgBouncer (session)')!)).toFixed(2)}x, vs the Node.js relay ${(median(seen.get('pgspec proxy')!) / median(seen.get('Node.js TCP relay, no decoding')!)).toFixed(2)}x; the relay vs PgBouncer ${(median(seen.get('Node.js TCP relay, no decoding')!) / median(seen.get('PgBouncer (session)')!)).toFixed(2)}x`,
      ],
    };
  } finally {
    await bouncer?.stop();
    await relay?.close();
    await proxy?.close();
    await pg.stop();
  }
}
