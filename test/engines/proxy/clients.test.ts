/**
 * The proxy engine in front of a real PostgreSQL 15: every real client runs the same script
 * directly against PostgreSQL and through the proxy, and must read the same thing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { createRequire } from 'node:module';
import postgres from 'postgres';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describeWithClient, runGo, runJava, runPgbench, runPsql, runPython, type RunResult } from '../../support/clients.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import { sendCancelRequest } from '../../../runtime/client/cancel.js';
import { startProxy, type RunningProxy } from './helpers.js';

// Neither package ships types.
const require = createRequire(import.meta.url);
const Cursor = require('pg-cursor') as new (text: string) => pg.Submittable & { read(n: number): Promise<unknown[]>; close(): Promise<void> };
const { from: copyFrom, to: copyTo } = require('pg-copy-streams') as {
  from(sql: string): pg.Submittable & NodeJS.WritableStream;
  to(sql: string): pg.Submittable & NodeJS.ReadableStream;
};

let up: PostgresServer;
let proxy: RunningProxy;

beforeAll(async () => {
  up = await startPostgres({ users: [{ name: 'alice', password: 'secret' }] });
  // No user in the URL: each client's own user name is used upstream (trust there).
  proxy = await startProxy(`postgres://127.0.0.1:${up.port}/?sslmode=disable`);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await up?.stop();
});

function ok(r: RunResult): string {
  if (r.exitCode !== 0) throw new Error(`${r.command} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Runs a script against PostgreSQL, then through the proxy (one after the other: scripts create tables). */
async function both<T>(run: (port: number) => Promise<T>): Promise<{ direct: T; proxied: T }> {
  const direct = await run(up.port);
  const proxied = await run(proxy.port);
  return { direct, proxied };
}

it('logs in upstream with the URL credentials (SCRAM) and reports the upstream parameters', async () => {
  const scram = await startProxy(up.url('alice', 'secret'));
  try {
    const c = new pg.Client({ host: '127.0.0.1', port: scram.port, user: 'someone', database: 'x', application_name: 'proxied-app' });
    await c.connect();
    const r = await c.query("select current_user, current_database(), current_setting('application_name') as app");
    expect(r.rows).toEqual([{ current_user: 'alice', current_database: 'postgres', app: 'proxied-app' }]);
    await c.end();
  } finally {
    await scram.close();
  }
});

it('forwards startup parameters (options, DateStyle, application_name)', async () => {
  const { direct, proxied } = await both(async (port) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', options: '-c search_path=pg_catalog -c DateStyle=German', application_name: 'fwd' });
    await c.connect();
    try {
      return (await c.query("select current_setting('search_path') sp, current_setting('DateStyle') ds, current_setting('application_name') an")).rows;
    } finally {
      await c.end();
    }
  });
  expect(direct).toEqual([{ sp: 'pg_catalog', ds: 'German, DMY', an: 'fwd' }]);
  expect(proxied).toEqual(direct);
});

describeWithClient('psql', 'psql and client_encoding', () => {
  it('forwards PGCLIENTENCODING and reports it back', async () => {
    const { direct, proxied } = await both(async (port) =>
      ok(await runPsql(['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-At', '-c', 'show client_encoding', '-c', "select convert_to('é', 'LATIN1')"], undefined, { env: { PGCLIENTENCODING: 'LATIN1' } })),
    );
    expect(direct).toContain('LATIN1');
    expect(proxied).toEqual(direct);
  });
});

const PSQL_SCRIPT = `
create table items (id int primary key, name text not null, price numeric(8,2));
insert into items values (1, 'apple', 1.25), (2, 'pear', null);
\\copy items from stdin
3	plum	0.50
4	fig	\\N
\\.
select * from items order by id;
\\d items
\\copy (select id, name from items order by id) to stdout
select count(*) from items \\gset
\\echo :count
begin;
select 1/0;
rollback;
drop table items;
`;

describeWithClient('psql', 'psql through the proxy', () => {
  it('runs queries, \\d and \\copy with the same output as directly', async () => {
    const { direct, proxied } = await both(async (port) => {
      const r = await runPsql(['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-f', '-'], PSQL_SCRIPT);
      return { out: r.stdout, err: r.stderr, code: r.exitCode };
    });
    expect(direct.out).toContain('Table "public.items"');
    expect(direct.out).toContain('plum');
    expect(proxied).toEqual(direct);
  });
});

describeWithClient('pgbench', 'pgbench through the proxy', () => {
  it('initializes (COPY) and runs -M simple/extended/prepared with 4 clients', async () => {
    const conn = ['-h', '127.0.0.1', '-p', String(proxy.port), '-U', 'postgres', 'postgres'];
    ok(await runPgbench(['-i', '-s', '1', '-q', ...conn], { timeoutMs: 120_000 }));
    for (const mode of ['simple', 'extended', 'prepared']) {
      const out = ok(await runPgbench(['-M', mode, '-c', '4', '-t', '50', '-n', ...conn], { timeoutMs: 120_000 }));
      expect(out, mode).toMatch(/number of transactions actually processed: 200\/200/);
    }
    const sum = await up.admin('select sum(abalance) = (select sum(delta) from pgbench_history) from pgbench_accounts');
    expect(sum.trim()).toBe('t');
  }, 180_000);
});

async function nodePgScenario(port: number): Promise<unknown> {
  const out: Record<string, unknown> = {};
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    await c.query('create table np (id int, label text)');
    out.params = (await c.query('select $1::int + $2::int as sum, $3::text as t, $4::text as n', [1, 2, 'x', null])).rows;
    out.prepared = [];
    for (const id of [1, 2, 3]) {
      (out.prepared as unknown[]).push((await c.query({ name: 'ins', text: 'insert into np values ($1, $2) returning id', values: [id, `row ${id}`] })).rows);
    }
    // COPY both ways through pg-copy-streams.
    const lines = Array.from({ length: 1000 }, (_, i) => `${i + 10}\tcopied ${i}\n`);
    await pipeline(Readable.from(lines), c.query(copyFrom('copy np from stdin')));
    const chunks: Buffer[] = [];
    await pipeline(c.query(copyTo('copy (select * from np order by id) to stdout')), new Writable({ write: (b: Buffer, _e, cb) => (chunks.push(b), cb()) }));
    const copied = Buffer.concat(chunks).toString();
    out.copyOut = [copied.length, copied.split('\n').length, copied.slice(0, 40)];
    // A cursor: Execute with a row limit, then Flush, repeatedly.
    const cursor = c.query(new Cursor('select id from np order by id'));
    const batches: number[] = [];
    for (;;) {
      const rows = await cursor.read(300);
      if (rows.length === 0) break;
      batches.push(rows.length);
    }
    await cursor.close();
    out.cursor = batches;
    // Error in the middle of queued queries.
    const results = await Promise.allSettled([c.query('select 1 as a'), c.query('select 1/0'), c.query('select 3 as c')]);
    out.pipeline = results.map((r) => (r.status === 'fulfilled' ? r.value.rows : (r.reason as { code: string }).code));
    out.types = (await c.query("select 1.5::numeric n, '2024-01-02'::date d, array[1,2] a, '{\"k\":1}'::jsonb j, 'xyz'::bytea b")).rows.map((r) => JSON.stringify(r));
  } finally {
    await c.query('drop table if exists np').catch(() => undefined);
    await c.end();
  }
  return out;
}

describeWithClient('node-pg', 'node-postgres through the proxy', () => {
  it('params, prepared statements, COPY, cursors and an error among queued queries match', async () => {
    const { direct, proxied } = await both(nodePgScenario);
    expect((direct as { cursor: number[] }).cursor).toEqual([300, 300, 300, 103]);
    expect(proxied).toEqual(direct);
  });

  it('delivers NOTIFY sent from another session to an idle client', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres' });
    await c.connect();
    const got = new Promise<pg.Notification>((resolve) => c.on('notification', resolve));
    await c.query('listen chan');
    await up.admin("notify chan, 'hello'");
    const n = await got;
    expect([n.channel, n.payload]).toEqual(['chan', 'hello']);
    await c.end();
  });

  it('cancels pg_sleep(10) through the proxy (57014) and the session goes on', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres' });
    await c.connect();
    const t0 = Date.now();
    const q = c.query('select pg_sleep(10)');
    await new Promise((r) => setTimeout(r, 300));
    const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
    const key = Buffer.alloc(4);
    key.writeInt32BE(secretKey);
    await sendCancelRequest({ host: '127.0.0.1', port: proxy.port, processId: processID, secretKey: key, tls: 'disable', tlsOptions: {} });
    await expect(q).rejects.toMatchObject({ code: '57014' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await c.query('select 42 as n')).rows).toEqual([{ n: 42 }]);
    await c.end();
  });
});

describeWithClient('postgres.js', 'postgres.js through the proxy', () => {
  it('pipelined queries, a transaction and an error match', async () => {
    const { direct, proxied } = await both(async (port) => {
      const sql = postgres({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max: 1, onnotice: () => undefined });
      try {
        const many = await Promise.all([sql`select 1 as a`, sql`select ${2}::int as b`, sql`select generate_series(1, ${5}::int) as g`, sql`select ${'x'} || 'y' as c`]);
        const tx = await sql.begin(async (t) => {
          await t`create temp table pj (v int)`;
          await t`insert into pj ${t([{ v: 1 }, { v: 2 }])}`;
          return t`select sum(v)::int as s from pj`;
        });
        const err = await sql`select 1/0`.catch((e: { code: string }) => e.code);
        const after = await sql`select 'ok' as s`;
        return JSON.stringify({ many, tx, err, after });
      } finally {
        await sql.end();
      }
    });
    expect(proxied).toEqual(direct);
  });
});

const PSYCOPG = `
import os, psycopg
with psycopg.connect(host='127.0.0.1', port=int(os.environ['PORT']), user='postgres', dbname='postgres', sslmode='disable') as c:
    c.execute('create temp table ps (id int, v text)')
    with c.pipeline():
        for i in range(20):
            c.execute('insert into ps values (%s, %s)', [i, 'v%d' % i])
        cur = c.execute('select count(*), max(id) from ps')
    print('pipeline', cur.fetchone())
    try:
        with c.pipeline():
            c.execute('select 1')
            c.execute('select 1/0')
            c.execute('select 2')
    except psycopg.errors.DivisionByZero as e:
        print('error', e.sqlstate)
    c.rollback()
    cur = c.cursor(binary=True)
    cur.execute('select %s::int, %s::text, %s::numeric', [7, 'x', '1.5'])
    print('binary', cur.fetchone())
    with c.cursor(name='srv') as named:
        named.itersize = 3
        named.execute('select generate_series(1, 10)')
        print('named', [r[0] for r in named])
    with c.cursor().copy('copy (select generate_series(1, 5)) to stdout') as cp:
        print('copy', b''.join(bytes(b) for b in cp).decode().split())
`;

describeWithClient('psycopg', 'psycopg 3 through the proxy', () => {
  it('pipeline mode, an error in a pipeline, binary, a named cursor and COPY match', async () => {
    const { direct, proxied } = await both(async (port) => ok(await runPython(PSYCOPG, { PORT: String(port) })));
    expect(direct).toContain("pipeline (20, 19)");
    expect(proxied).toEqual(direct);
  });
});

const ASYNCPG = `
import asyncio, os, asyncpg
async def main():
    c = await asyncpg.connect(host='127.0.0.1', port=int(os.environ['PORT']), user='postgres', database='postgres', ssl=False)
    print(await c.fetch('select n, n::text as t from generate_series(1, 3) n'))
    print(await c.fetchval('select $1::int8 * 2', 21))
    async with c.transaction():
        cur = await c.cursor('select n from generate_series(1, 7) n')
        print([r[0] for r in await cur.fetch(3)], [r[0] for r in await cur.fetch(10)])
    await c.execute('create temp table ap (a int, b text)')
    await c.copy_records_to_table('ap', records=[(i, 'r%d' % i) for i in range(100)])
    print(await c.fetchval('select count(*) from ap'))
    try:
        await c.fetch('select 1/(n-2) from generate_series(1, 3) n')
    except asyncpg.PostgresError as e:
        print('error', e.sqlstate)
    await c.executemany('insert into ap values ($1, $2)', [(1000 + i, 'm') for i in range(10)])
    print(await c.fetchval('select count(*) from ap'))
    await c.close()
asyncio.run(main())
`;

describeWithClient('asyncpg', 'asyncpg through the proxy', () => {
  it('fetch, cursors, binary COPY, executemany and errors match', async () => {
    const { direct, proxied } = await both(async (port) => ok(await runPython(ASYNCPG, { PORT: String(port) })));
    expect(direct).toContain('error 22012');
    expect(proxied).toEqual(direct);
  });
});

const JAVA = `
import java.sql.*;
public class ProxyJdbc {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + System.getenv("PORT") + "/postgres?sslmode=disable", "postgres", "")) {
      try (Statement s = c.createStatement()) { s.execute("create temp table jt (id int, v text)"); }
      try (PreparedStatement p = c.prepareStatement("insert into jt values (?, ?)")) {
        for (int i = 0; i < 250; i++) { p.setInt(1, i); p.setString(2, "v" + i); p.addBatch(); }
        int[] counts = p.executeBatch();
        System.out.println("batch " + counts.length);
      }
      c.setAutoCommit(false);
      try (PreparedStatement p = c.prepareStatement("select id, v from jt order by id")) {
        p.setFetchSize(40);
        try (ResultSet r = p.executeQuery()) { int n = 0; long sum = 0; while (r.next()) { n++; sum += r.getInt(1); } System.out.println("fetch " + n + " " + sum); }
      }
      c.commit();
      for (int k = 0; k < 6; k++) {
        try (PreparedStatement p = c.prepareStatement("select count(*) from jt where id < ?")) { p.setInt(1, k * 10); try (ResultSet r = p.executeQuery()) { r.next(); System.out.println("q " + r.getLong(1)); } }
      }
      try (Statement s = c.createStatement()) { s.executeQuery("select 1/0"); } catch (SQLException e) { System.out.println("error " + e.getSQLState()); c.rollback(); }
      c.setAutoCommit(true);
    }
  }
}
`;

describeWithClient('pgjdbc', 'pgJDBC through the proxy', () => {
  it('batch inserts, fetchSize cursors, server-prepared statements and errors match', async () => {
    const { direct, proxied } = await both(async (port) => ok(await runJava(JAVA, [], { env: { PORT: String(port) }, timeoutMs: 120_000 })));
    expect(direct).toContain('fetch 250 31125');
    expect(proxied).toEqual(direct);
  }, 180_000);
});

const GO = `
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v4"
)

func main() {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:"+os.Getenv("PORT")+"/postgres?sslmode=disable")
	if err != nil { panic(err) }
	defer c.Close(ctx)
	var s int
	var t string
	if err := c.QueryRow(ctx, "select $1::int + 1, $2::text", 41, "x").Scan(&s, &t); err != nil { panic(err) }
	fmt.Println("row", s, t)
	if _, err := c.Exec(ctx, "create temp table gt (id int, v text)"); err != nil { panic(err) }
	rows := [][]interface{}{}
	for i := 0; i < 100; i++ { rows = append(rows, []interface{}{i, fmt.Sprint("v", i)}) }
	n, err := c.CopyFrom(ctx, pgx.Identifier{"gt"}, []string{"id", "v"}, pgx.CopyFromRows(rows))
	if err != nil { panic(err) }
	fmt.Println("copy", n)
	b := &pgx.Batch{}
	b.Queue("select count(*) from gt")
	b.Queue("select max(id) from gt where id < $1", 50)
	b.Queue("select 1/0")
	br := c.SendBatch(ctx, b)
	var cnt, mx int
	fmt.Println("b1", br.QueryRow().Scan(&cnt), cnt)
	fmt.Println("b2", br.QueryRow().Scan(&mx), mx)
	var z int
	fmt.Println("b3", br.QueryRow().Scan(&z) != nil)
	br.Close()
	var ok string
	if err := c.QueryRow(ctx, "select 'after'").Scan(&ok); err != nil { panic(err) }
	fmt.Println(ok)
}
`;

describeWithClient('pgx', 'pgx through the proxy', () => {
  it('params, CopyFrom and a batch with an error match', async () => {
    const { direct, proxied } = await both(async (port) => ok(await runGo(GO, { PORT: String(port) }, { timeoutMs: 120_000 })));
    expect(direct).toContain('copy 100');
    expect(proxied).toEqual(direct);
  }, 240_000);
});

it('reports no protocol violations for all of the above', () => {
  expect(proxy.violations).toEqual([]);
});
