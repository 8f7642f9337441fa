/**
 * The measurements the executor uses on an embedded PostgreSQL, checked on a real PostgreSQL 15
 * with one connection (as PGlite has one backend): pg_stat_xact_user_tables differences around a
 * statement, inside its transaction, name the leaf partitions it modified; the backend totals do so
 * across a commit too.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PgClientConnection } from '../../runtime/client/index.js';
import { BACKEND_TOTALS_SQL, xactStatsTracker } from '../../runtime/extend-protocol/xact-stats.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';

let pgsrv: PostgresServer;
let c: PgClientConnection;

beforeAll(async () => {
  pgsrv = await startPostgres({
    initSql: `CREATE TABLE m (k int, v int) PARTITION BY RANGE (k);
      CREATE TABLE m_low PARTITION OF m FOR VALUES FROM (0) TO (100);
      CREATE TABLE m_high PARTITION OF m FOR VALUES FROM (100) TO (200);`,
  });
  c = await PgClientConnection.connect({ host: pgsrv.host, port: pgsrv.port, user: 'postgres', tls: 'disable' });
}, 120_000);

afterAll(async () => {
  await c?.close();
  await pgsrv?.stop();
});

const oid = async (name: string): Promise<number> => Number((await c.query(`SELECT '${name}'::regclass::oid`))[0]!.rows[0]![0]);

it('reports leaf partitions per kind of change', async () => {
  const [low, high] = [await oid('m_low'), await oid('m_high')];
  const tracker = xactStatsTracker(async (sql) => (await c.query(sql))[0]!.rows);
  await c.query('BEGIN');
  await tracker.before();
  await c.query('INSERT INTO m VALUES (1, 0), (150, 0)');
  expect(await tracker.after()).toEqual({ inserted: [low, high].sort((a, b) => a - b), updated: [], deleted: [] });
  await tracker.before();
  await c.query('UPDATE m SET v = 1 WHERE k = 150');
  await c.query('DELETE FROM m WHERE k = 1');
  expect(await tracker.after()).toEqual({ inserted: [], updated: [high], deleted: [low] });
  await c.query('ROLLBACK');
});

it('with the backend totals, measures an autocommit statement whose counts were sent to the shared statistics at its commit', async () => {
  const [low, high] = [await oid('m_low'), await oid('m_high')];
  const rows = async (sql: string) => (await c.query(sql))[0]!.rows;
  const totals = xactStatsTracker(rows, BACKEND_TOTALS_SQL);
  const pending = xactStatsTracker(rows);
  await totals.before();
  await pending.before();
  // The next idle moment (right after this Query's commit) sends every pending count.
  await c.query('INSERT INTO m VALUES (2, 0), (160, 0); SELECT pg_stat_force_next_flush()');
  expect(await pending.after()).toEqual({ inserted: [], updated: [], deleted: [] });
  expect(await totals.after()).toEqual({ inserted: [low, high].sort((a, b) => a - b), updated: [], deleted: [] });
  await c.query('DELETE FROM m');
});
