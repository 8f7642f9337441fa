/**
 * The proxy when things go wrong: COPY of ~200 MB each way with the proxy's memory bounded, the
 * upstream dying mid-query (08006) or terminating the session (57P01), and an upstream that
 * breaks the protocol (reported, and the session ends with 08P01) — the server stays up.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { describeWithClient, runPsql } from '../../support/clients.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import { ready, startFakeUpstream } from './fake-upstream.js';
import { expectServing, startProxy, startRelay, type RunningProxy } from './helpers.js';

let up: PostgresServer;
let proxy: RunningProxy;

beforeAll(async () => {
  up = await startPostgres({ initSql: 'create unlogged table sink (id int, payload text);' });
  proxy = await startProxy(`postgres://127.0.0.1:${up.port}/?sslmode=disable`);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await up?.stop();
});

/** Samples this process's RSS while `work` runs; returns the largest growth over the start, in MB. */
async function rssGrowth(work: () => Promise<void>): Promise<number> {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return (Math.max(peak, process.memoryUsage().rss) - base) / 2 ** 20;
}

const ROWS = 2_000_000; // ~200 MB of COPY text at ~100 bytes a row
const PAYLOAD = 'x'.repeat(90);

describeWithClient('psql', 'a large COPY through the proxy', () => {
  const conn = (): string[] => ['-h', '127.0.0.1', '-p', String(proxy.port), '-U', 'postgres', '-d', 'postgres', '-At'];

  it('streams ~200 MB of COPY FROM STDIN with bounded memory', async () => {
    let out = '';
    const growth = await rssGrowth(async () => {
      const r = await runPsql([...conn(), '-c', `\\copy sink (payload) from program 'yes ${PAYLOAD} | head -n ${ROWS}'`], undefined, { timeoutMs: 300_000 });
      out = r.stdout + r.stderr;
    });
    expect(out).toContain(`COPY ${ROWS}`);
    expect(growth).toBeLessThan(300);
    expect((await up.admin('select count(*) from sink; truncate sink;')).trim()).toBe(String(ROWS));
  }, 300_000);

  it('streams ~200 MB of COPY TO STDOUT with bounded memory', async () => {
    let out = '';
    const growth = await rssGrowth(async () => {
      const r = await runPsql([...conn(), '-c', `\\copy (select i, '${PAYLOAD}' from generate_series(1, ${ROWS}) i) to program 'wc -c'`], undefined, { timeoutMs: 300_000 });
      out = r.stdout + r.stderr;
    });
    expect(out).toMatch(/COPY 2000000/);
    expect(growth).toBeLessThan(300);
  }, 300_000);
});

it('ends the session with 08006 when the upstream connection dies mid-query; the server stays up', async () => {
  const relay = await startRelay('127.0.0.1', up.port);
  const cut = await startProxy(`postgres://127.0.0.1:${relay.port}/?sslmode=disable`);
  try {
    const c = new pg.Client({ host: '127.0.0.1', port: cut.port, user: 'postgres', database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    const q = c.query('select pg_sleep(5)');
    setTimeout(() => relay.cut(), 300);
    await expect(q).rejects.toMatchObject({ code: '08006' });
    await expectServing(cut.port);
  } finally {
    await cut.close();
    await relay.close();
  }
});

it('passes on 57P01 when the upstream terminates the session mid-query, and when idle', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres', application_name: 'victim' });
  c.on('error', () => undefined);
  await c.connect();
  const failed = expect(c.query('select pg_sleep(5)')).rejects.toMatchObject({ code: '57P01' });
  await new Promise((r) => setTimeout(r, 300));
  await up.admin("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'victim'");
  await failed;

  const idle = new pg.Client({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres', application_name: 'idle-victim' });
  const lost = new Promise<{ code?: string }>((resolve) => idle.on('error', (e) => resolve(e as { code?: string })));
  await idle.connect();
  await up.admin("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'idle-victim'");
  expect((await lost).code).toBe('57P01');

  await expectServing(proxy.port);
});

it('reports an upstream protocol violation with its message and state, and ends the session with 08P01', async () => {
  // BackendKeyData answers no Query: the state machine does not allow it in SimpleQuery.
  const fake = await startFakeUpstream((_query, reply) => reply.send([{ type: 'BackendKeyData', processId: 1, secretKey: Buffer.alloc(4) }, ready('I')]));
  const p = await startProxy(`postgres://127.0.0.1:${fake.port}/?sslmode=disable`);
  try {
    const c = new pg.Client({ host: '127.0.0.1', port: p.port, user: 'postgres', database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    await expect(c.query('select 1')).rejects.toMatchObject({ code: '08P01' });
    expect(p.violations).toEqual([expect.objectContaining({ by: 'upstream', state: 'SimpleQuery', message: 'BackendKeyData' })]);
    expect(p.server.connectionCount).toBeLessThanOrEqual(1);
  } finally {
    await p.close();
    await fake.close();
  }
});
