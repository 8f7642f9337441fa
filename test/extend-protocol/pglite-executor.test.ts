/**
 * The Cloudberry executor on the embedded PGlite engine, end to end over TCP: one PgServer, plain
 * protocol 3 on one listener and the executor dialect on another. A dispatcher (with the 'e'
 * extension) consumes the OIDs of the leaf partitions its statements modified, checked against
 * pg_class; ordinary clients on either listener never see an 'e'.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudberryExtendProtocol } from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { PgClientConnection } from '../../runtime/client/index.js';
import { PgliteEngine } from '../../runtime/engines/pglite/index.js';
import { pgliteExecutor } from '../../runtime/extend-protocol/pglite-executor.js';
import type { PgServer } from '../../runtime/server/server.js';
import { describeWithClient, runPsql } from '../support/clients.js';
import { bind, execute, parse, q, sync } from '../engines/pglite/helpers.js';
import { DispatcherWire } from './support/dispatcher-wire.js';
import { startExecutorServer } from './support/executor-server.js';

let server: PgServer;
let plainPort: number;
let executorPort: number;
/** Relation OIDs by name, from pg_class. */
const oid: Record<string, number> = {};

beforeAll(async () => {
  ({ server, plainPort, executorPort } = await startExecutorServer(pgliteExecutor(await PgliteEngine.create())));
  const c = await PgClientConnection.connect({ host: '127.0.0.1', port: plainPort, user: 'postgres', tls: 'disable' });
  await c.query(`CREATE TABLE m (k int, v int) PARTITION BY RANGE (k);
    CREATE TABLE m_low PARTITION OF m FOR VALUES FROM (0) TO (100);
    CREATE TABLE m_high PARTITION OF m FOR VALUES FROM (100) TO (200);
    CREATE TABLE other (k int)`);
  const [rows] = await c.query("SELECT relname, oid FROM pg_class WHERE relname IN ('m', 'm_low', 'm_high', 'other')");
  for (const [name, id] of rows!.rows) oid[name!] = Number(id);
  await c.close();
}, 60_000);

afterAll(async () => {
  await server?.close();
});

function dispatcher(): Promise<PgClientConnection> {
  return PgClientConnection.connect({ host: '127.0.0.1', port: executorPort, user: 'qd', database: 'postgres', tls: 'disable', extensions: [cloudberryExtendProtocol] });
}

async function withDispatcher(fn: (qd: PgClientConnection) => Promise<void>): Promise<void> {
  const qd = await dispatcher();
  try {
    await fn(qd);
  } finally {
    await qd.close();
  }
}

async function withWire(fn: (w: DispatcherWire) => Promise<void>): Promise<void> {
  const w = await DispatcherWire.connect(executorPort, 'qd');
  try {
    await fn(w);
  } finally {
    await w.close();
  }
}

const report = (r: Partial<Record<'inserted' | 'updated' | 'deleted', string[]>>) => ({
  inserted: (r.inserted ?? []).map((n) => oid[n]!).sort((a, b) => a - b),
  updated: (r.updated ?? []).map((n) => oid[n]!).sort((a, b) => a - b),
  deleted: (r.deleted ?? []).map((n) => oid[n]!).sort((a, b) => a - b),
});

describe('a dispatcher on the executor listener', () => {
  it('consumes the leaf partitions an INSERT into a partitioned table modified, once', () =>
    withDispatcher(async (qd) => {
      expect(qd.unrecognizedOptions).toEqual([]);
      const store = qd.extendProtocolData!;
      await qd.query('BEGIN');
      await qd.query('INSERT INTO m VALUES (1, 0), (150, 0)');
      expect(store.consumeModifiedRelations()).toEqual(report({ inserted: ['m_low', 'm_high'] }));
      expect(store.consumeModifiedRelations()).toEqual(report({}));
      await qd.execute('INSERT INTO m VALUES ($1, 0)', ['2']);
      expect(store.consumeModifiedRelations()).toEqual(report({ inserted: ['m_low'] }));
      await qd.query('COMMIT');
      expect(store.warnings).toEqual([]);
    }));

  it('reports UPDATE (one moving rows across partitions: a delete and an insert for PostgreSQL) and DELETE', () =>
    withDispatcher(async (qd) => {
      const store = qd.extendProtocolData!;
      await qd.query('BEGIN');
      await qd.query('INSERT INTO m VALUES (10, 0), (110, 0); INSERT INTO other VALUES (1)');
      store.consumeModifiedRelations();
      await qd.query('UPDATE m SET v = 1 WHERE k = 10');
      expect(store.consumeModifiedRelations()).toEqual(report({ updated: ['m_low'] }));
      await qd.query('UPDATE m SET k = 120 WHERE k = 10');
      expect(store.consumeModifiedRelations()).toEqual(report({ inserted: ['m_high'], deleted: ['m_low'] }));
      await qd.execute('DELETE FROM m WHERE k >= $1', ['100']);
      await qd.query('DELETE FROM other');
      expect(store.consumeModifiedRelations()).toEqual(report({ deleted: ['m_high', 'other'] }));
      await qd.query('ROLLBACK');
    }));

  it('reports nothing for a statement that fails, even after it modified a partition', () =>
    withDispatcher(async (qd) => {
      await qd.query('BEGIN');
      await expect(qd.query('INSERT INTO m VALUES (3, 0), (500, 0)')).rejects.toMatchObject({ code: '23514' });
      expect(qd.extendProtocolData!.hasUnconsumed()).toBe(false);
      await qd.query('ROLLBACK');
      await expect(qd.execute('INSERT INTO m VALUES (3, 0), ($1, 0)', ['500'])).rejects.toMatchObject({ code: '23514' });
      expect(qd.extendProtocolData!.hasUnconsumed()).toBe(false);
      expect(qd.extendProtocolData!.warnings).toEqual([]);
    }));

  it('is warned once per subtag left unconsumed at COMMIT; ROLLBACK clears without a warning', () =>
    withDispatcher(async (qd) => {
      const store = qd.extendProtocolData!;
      await qd.query('BEGIN');
      await qd.query('INSERT INTO m VALUES (4, 0)');
      await qd.query('INSERT INTO m VALUES (160, 0)');
      await qd.query('DELETE FROM m WHERE k = 4');
      await qd.query('COMMIT');
      expect(store.warnings.map((w) => [w.message, w.blocks])).toEqual([
        ['Extend Protocol Data unconsumed, subtag: 0', 2],
        ['Extend Protocol Data unconsumed, subtag: 2', 1],
      ]);
      await qd.query('BEGIN');
      await qd.query('DELETE FROM m WHERE k = 160');
      expect(store.hasUnconsumed()).toBe(true);
      await qd.query('ROLLBACK');
      expect(store.hasUnconsumed()).toBe(false);
      expect(store.warnings).toHaveLength(2);
    }));

  it('measures autocommit statements too, whose commit comes before the second reading', () =>
    withDispatcher(async (qd) => {
      const consumed: unknown[] = [];
      const listener = (): void => void consumed.push(qd.extendProtocolData!.consumeModifiedRelations());
      qd.on('commandComplete', listener);
      await qd.query('INSERT INTO m VALUES (5, 0)');
      await qd.execute('UPDATE m SET v = v + 1 WHERE k = $1', ['5']);
      await qd.query('DELETE FROM m WHERE k = 5');
      expect(consumed).toEqual([report({ inserted: ['m_low'] }), report({ updated: ['m_low'] }), report({ deleted: ['m_low'] })]);
      qd.off('commandComplete', listener);
      await qd.query('INSERT INTO m VALUES (170, 0)');
      expect(qd.extendProtocolData!.warnings.map((w) => w.message)).toEqual(['Extend Protocol Data unconsumed, subtag: 0']);
    }));

  it("does not count another session's changes made while its statement runs", () =>
    withDispatcher(async (qd) => {
      const other = await PgClientConnection.connect({ host: '127.0.0.1', port: plainPort, user: 'postgres', tls: 'disable' });
      const consumed: unknown[] = [];
      qd.on('commandComplete', () => void consumed.push(qd.extendProtocolData!.consumeModifiedRelations()));
      try {
        const rounds = Array.from({ length: 10 }, (_, i) => i);
        await Promise.all([
          ...rounds.map((i) => qd.query(`INSERT INTO m VALUES (${20 + i}, 0)`)),
          ...rounds.map((i) => other.query(`INSERT INTO other VALUES (${i})`)),
        ]);
        expect(consumed).toEqual(rounds.map(() => report({ inserted: ['m_low'] })));
      } finally {
        await other.close();
      }
    }));
});

describe('the e message in the extended protocol', () => {
  it('comes before each CommandComplete of a pipeline (Parse/Bind/Execute several times, one Sync)', () =>
    withWire(async (w) => {
      expect(
        await w.run(
          parse('ins', 'INSERT INTO m VALUES ($1, 0)'), bind('', 'ins', ['30']), execute(), bind('', 'ins', ['130']), execute(),
          parse('', 'INSERT INTO other VALUES (1000)'), bind('', ''), execute(), parse('', 'DELETE FROM other WHERE k = 1000'), bind('', ''), execute(),
          sync,
        ),
      ).toBe(
        `1 2 e(Inserted:${oid.m_low}) C(INSERT 0 1) 2 e(Inserted:${oid.m_high}) C(INSERT 0 1) ` +
          `1 2 e(Inserted:${oid.other}) C(INSERT 0 1) 1 2 e(Deleted:${oid.other}) C(DELETE 1) Z(I)`,
      );
    }));

  it('is left out for the Execute that fails and for the skipped ones after it', () =>
    withWire(async (w) => {
      expect(
        await w.run(parse('ins', 'INSERT INTO m VALUES ($1, 0)'), bind('', 'ins', ['31']), execute(), bind('', 'ins', ['900']), execute(), bind('', 'ins', ['131']), execute(), sync),
      ).toBe(`1 2 e(Inserted:${oid.m_low}) C(INSERT 0 1) 2 E(23514) Z(I)`);
      expect(await w.run(q('SELECT count(*) FROM m WHERE k IN (31, 131)'))).toBe('T D[0] C(SELECT 1) Z(I)');
    }));

  it('comes before PortalSuspended when an Execute stops at its row limit (the INSERT has run whole)', () =>
    withWire(async (w) => {
      expect(await w.run(q('BEGIN'))).toBe('C(BEGIN) Z(T)');
      expect(await w.run(parse('', 'INSERT INTO m VALUES (40, 0), (140, 0) RETURNING k'), bind('r', ''), execute('r', 1), sync)).toBe(
        `1 2 D[40] e(Inserted:${Math.min(oid.m_low!, oid.m_high!)},${Math.max(oid.m_low!, oid.m_high!)}) s Z(T)`,
      );
      // The rest of the rows; nothing new was modified, so no e.
      expect(await w.run(execute('r', 0), sync)).toBe('D[140] C(INSERT 0 1) Z(T)');
      expect(await w.run(q('ROLLBACK'))).toBe('C(ROLLBACK) Z(I)');
    }));

  it('comes once for a Query of several statements, before its last CommandComplete', () =>
    withWire(async (w) => {
      expect(await w.run(q('BEGIN; INSERT INTO m VALUES (50, 0); INSERT INTO other VALUES (2); SELECT 1; ROLLBACK'))).toBe(
        `C(BEGIN) C(INSERT 0 1) C(INSERT 0 1) T D[1] C(SELECT 1) e(Inserted:${[oid.m_low!, oid.other!].sort((a, b) => a - b).join(',')}) C(ROLLBACK) Z(I)`,
      );
    }));
});

describe('clients without the option, on both listeners', () => {
  it('never receive an e message, while a dispatcher on the same server does', async () => {
    const qd = await dispatcher();
    const clients = [plainPort, executorPort].map((port) => new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'postgres' }));
    const consumed: unknown[] = [];
    qd.on('commandComplete', () => void consumed.push(qd.extendProtocolData!.consumeModifiedRelations()));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      for (const c of clients) {
        await c.query('INSERT INTO m VALUES (61, 0)');
        await qd.query('INSERT INTO m VALUES (62, 0)');
        await c.query('UPDATE m SET v = $1 WHERE k = 61', [2]);
        await c.query('DELETE FROM m WHERE k = 61');
      }
      expect(consumed).toEqual([report({ inserted: ['m_low'] }), report({ inserted: ['m_low'] })]);
    } finally {
      await Promise.all([...clients.map((c) => c.end()), qd.close()]);
    }
  });

  describeWithClient('psql', 'psql', () => {
    it('psql runs inserts, updates and deletes on both listeners without seeing an e', async () => {
      const results = await Promise.all(
        [plainPort, executorPort].map((port, i) =>
          runPsql([
            `host=127.0.0.1 port=${port} user=app dbname=postgres sslmode=disable`,
            '-At', '-c', `INSERT INTO m VALUES (${80 + i}, 0)`, '-c', `UPDATE m SET v = 1 WHERE k = ${80 + i}`, '-c', `DELETE FROM m WHERE k = ${80 + i}`,
          ]),
        ),
      );
      for (const r of results) {
        expect(r.stderr).toBe('');
        expect(r.exitCode).toBe(0);
        expect(r.stdout.trim().split('\n')).toEqual(['INSERT 0 1', 'UPDATE 1', 'DELETE 1']);
      }
    });
  });
});
