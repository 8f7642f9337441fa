/**
 * BI-style clients through the extended protocol with binary results: asyncpg (all binary),
 * pgJDBC (binary once a statement is server-prepared) and psycopg 3 (binary=True). Each client
 * runs the same script against the handler engine and against a real PostgreSQL 15 holding the
 * same table; what the client reads must be identical.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithClient, runJava, runPython, type RunResult } from '../../support/clients.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import type { Bind } from '../../../generated/index.js';
import { fixtureEngine, recordingBinds, serve, type Running } from './fixtures.js';

const CREATE_TYPED = `
CREATE TABLE typed (id int4, small int2, big int8, "real" float4, "double" float8, amount numeric, flag bool, label text,
  day date, at timestamp, atz timestamptz, uid uuid, doc jsonb, span interval, tags text[]);
INSERT INTO typed VALUES
  (1, 7, 9007199254740993, 1.5, 0.1, 12345.6789, true, 'héllo', '2024-02-29', '2024-02-29 13:05:00.123456', '2024-02-29 13:05:00+00',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '1 year 2 mons 3 days 00:00:04', ARRAY['a b', NULL, 'c']),
  (2, -1, -5, -0.25, -1e100, -0.001, false, '', '1999-12-31', '1970-01-01 00:00:00', '2000-01-01 00:00:00+00',
   '00000000-0000-0000-0000-000000000000', NULL, '00:00:00', '{}'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
`;

let ours: Running;
const binds: Bind[] = [];
/** Whether some Bind asked for binary results. */
const sawBinaryResults = (): boolean => binds.some((b) => b.resultFormats.includes(1));
let pg: PostgresServer;

beforeAll(async () => {
  [ours, pg] = await Promise.all([serve(recordingBinds(fixtureEngine(), binds)), startPostgres({ initSql: CREATE_TYPED })]);
});

afterAll(async () => {
  await Promise.all([ours?.close(), pg?.stop()]);
});

function ok(r: RunResult): string {
  if (r.exitCode !== 0) throw new Error(`${r.command} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Runs a script against both servers (PORT in the environment) and returns both outputs. */
async function both(run: (port: number) => Promise<RunResult>): Promise<{ mine: string; theirs: string }> {
  binds.length = 0;
  const [mine, theirs] = await Promise.all([run(ours.port).then(ok), run(pg.port).then(ok)]);
  return { mine, theirs };
}

const ASYNCPG = `
import asyncio, os, asyncpg
async def main():
    c = await asyncpg.connect(host='127.0.0.1', port=int(os.environ['PORT']), user='postgres', database='postgres', ssl=False)
    for r in await c.fetch('SELECT * FROM typed'):
        print(repr(tuple(r.values())))
    row = await c.fetchrow('SELECT * FROM typed WHERE id = $1', 2)
    print('fetchrow', repr(tuple(row.values())))
    print('fetchval', repr(await c.fetchval('SELECT * FROM typed WHERE id = $1', 1)))
    async with c.transaction():
        cur = await c.cursor('SELECT n FROM generate_series(1, 5) n')
        print('cursor', [r[0] for r in await cur.fetch(2)], [r[0] for r in await cur.fetch(10)])
    try:
        await c.fetch('SELECT 1/(n-2) AS x FROM generate_series(1, 3) n')
    except asyncpg.PostgresError as e:
        print('error', e.sqlstate)
    print('after error', await c.fetchval('SELECT n FROM generate_series(1, 1) n'))
    await c.close()
asyncio.run(main())
`;

const PSYCOPG = `
import os, psycopg
with psycopg.connect(host='127.0.0.1', port=int(os.environ['PORT']), user='postgres', dbname='postgres', sslmode='disable') as c:
    cur = c.cursor(binary=True)
    cur.execute('SELECT * FROM typed')
    for r in cur.fetchall():
        print(repr(r))
    cur.execute('SELECT * FROM typed WHERE id = %s', [1], binary=True)
    print('param', repr(cur.fetchone()))
    cur.execute('SELECT * FROM typed WHERE id = %s', [3])
    print('text', repr(cur.fetchone()))
    print('status after select', c.info.transaction_status.name)
    c.commit()
    print('status after commit', c.info.transaction_status.name)
    try:
        cur.execute('SELECT 1/(n-2) AS x FROM generate_series(1, 3) n')
        cur.fetchall()
    except psycopg.Error as e:
        print('error', e.sqlstate, c.info.transaction_status.name)
    c.rollback()
    print('status after rollback', c.info.transaction_status.name)
    c.autocommit = True
    try:
        with c.pipeline():
            a = c.execute('SELECT n FROM generate_series(1, 2) n')
            c.execute('SELECT 1/(n-2) AS x FROM generate_series(1, 3) n')
            c.execute('SELECT n FROM generate_series(1, 3) n')
    except psycopg.Error as e:
        print('pipeline error', e.sqlstate)
    print('after pipeline', c.execute('SELECT n FROM generate_series(1, 1) n').fetchall(), c.info.transaction_status.name)
`;

const JDBC = `
import java.sql.*;
public class TypedBinary {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + a[0] + "/postgres?user=postgres&sslmode=disable")) {
      try (PreparedStatement ps = c.prepareStatement("SELECT * FROM typed WHERE id = ?")) {
        for (int round = 0; round < 7; round++) {
          ps.setInt(1, 1 + round % 3);
          try (ResultSet rs = ps.executeQuery()) {
            StringBuilder b = new StringBuilder("round " + round + ":");
            while (rs.next()) {
              for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                Object o = rs.getObject(i);
                b.append(" ").append(rs.getMetaData().getColumnName(i)).append("=").append(o == null ? "NULL" : o.toString());
              }
              b.append(" | int=").append(rs.getInt("id")).append(" big=").append(rs.getLong("big")).append(" amount=").append(rs.getBigDecimal("amount"))
               .append(" day=").append(rs.getDate("day")).append(" at=").append(rs.getTimestamp("at")).append(" flag=").append(rs.getBoolean("flag"));
            }
            System.out.println(b);
          }
        }
      }
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("SELECT n FROM generate_series(1, 7) n")) {
        ps.setFetchSize(3);
        try (ResultSet rs = ps.executeQuery()) {
          StringBuilder b = new StringBuilder("fetchSize:");
          while (rs.next()) b.append(" ").append(rs.getInt(1));
          System.out.println(b);
        }
      }
      c.commit();
      try (Statement s = c.createStatement()) {
        s.executeQuery("SELECT 1/(n-2) AS x FROM generate_series(1, 3) n");
      } catch (SQLException e) {
        System.out.println("error " + e.getSQLState());
      }
      c.rollback();
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT n FROM generate_series(1, 1) n")) {
        rs.next();
        System.out.println("after error " + rs.getInt(1));
      }
      c.commit();
    }
  }
}
`;

describeWithClient('asyncpg', 'handler engine with asyncpg (binary everything)', () => {
  it('reads every type and pages cursors like PostgreSQL', async () => {
    const { mine, theirs } = await both((port) => runPython(ASYNCPG, { PORT: String(port) }));
    expect(mine).toContain("Decimal('12345.6789')");
    expect(mine).toContain('cursor [1, 2] [3, 4, 5]');
    expect(mine).toContain('error 22012');
    expect(mine).toBe(theirs);
    expect(sawBinaryResults()).toBe(true);
  });
});

describeWithClient('psycopg', 'handler engine with psycopg 3 (binary=True, pipeline, transactions)', () => {
  it('reads every type, reports transaction status and survives a failed pipeline like PostgreSQL', async () => {
    const { mine, theirs } = await both((port) => runPython(PSYCOPG, { PORT: String(port) }));
    expect(mine).toContain('status after select INTRANS');
    expect(mine).toContain('pipeline error 22012');
    expect(mine).toBe(theirs);
    expect(sawBinaryResults()).toBe(true);
  });
});

describeWithClient('pgjdbc', 'handler engine with pgJDBC (binary after prepareThreshold, fetchSize)', () => {
  it('reads every type through text and binary rounds like PostgreSQL', async () => {
    const { mine, theirs } = await both((port) => runJava(JDBC, [String(port)], { timeoutMs: 120_000 }));
    expect(mine).toContain('fetchSize: 1 2 3 4 5 6 7');
    expect(mine).toContain('round 6:');
    expect(mine).toBe(theirs);
    expect(sawBinaryResults()).toBe(true);
  }, 180_000);
});
