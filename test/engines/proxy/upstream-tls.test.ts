/**
 * The proxy's upstream over TLS (sslmode=require): the upstream reads its socket through the TLS
 * layer rather than into its own read buffer, and every answer still arrives whole, a large
 * result included.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import { startProxy, type RunningProxy } from './helpers.js';

let up: PostgresServer;
let proxy: RunningProxy;

beforeAll(async () => {
  up = await startPostgres({ ssl: true });
  proxy = await startProxy(`postgres://127.0.0.1:${up.port}/?sslmode=require`);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await up?.stop();
});

it('relays a session whose upstream connection is encrypted', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    expect((await c.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows).toEqual([{ ssl: true }]);
    // Some megabytes of rows: many TLS records, split anywhere.
    const r = await c.query("select i, repeat('t', 500) as pad from generate_series(1, 20000) i");
    expect(r.rows.length).toBe(20000);
    expect(r.rows.at(-1)).toEqual({ i: 20000, pad: 't'.repeat(500) });
  } finally {
    await c.end();
  }
  expect(proxy.violations).toEqual([]);
});
