/**
 * Real clients against one running pgspec server on the default engine (PGlite, embedded
 * PostgreSQL 18): psql (queries, \d, \copy, TLS, SCRAM channel binding, gssencmode), pgbench in
 * the three query modes, node-postgres, postgres.js, psycopg 3, pgJDBC and pgx v4. Every suite
 * checks what the client read back, not only that it exited cleanly.
 *
 * PGlite is one backend shared by every session, so the tests run one after another on one
 * server and each works in tables of its own.
 */
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { PgliteEngine } from '../../runtime/engines/pglite/index.js';
import { PgServer } from '../../runtime/server/server.js';
import { describeWithClient, runGo, runJava, runPgbench, runPsql, runPython, type RunResult } from '../support/clients.js';
import { makeCertificateFiles, type CertificateFiles } from '../runtime/support/servers.js';

// pg-cursor and pg-copy-streams ship no types.
const require = createRequire(import.meta.url);
type CursorLike = pg.Submittable & { read(rows: number): Promise<Record<string, unknown>[]>; close(): Promise<void> };
const Cursor = require('pg-cursor') as new (text: string, values?: unknown[]) => CursorLike;
const copyStreams = require('pg-copy-streams') as {
  from(sql: string): pg.Submittable & NodeJS.WritableStream;
  to(sql: string): pg.Submittable & NodeJS.ReadableStream;
};

const SCRAM_USER = 'scrammer';
const SCRAM_PASSWORD = 'ch@nnel-b1nding';

let engine: PgliteEngine;
let server: PgServer;
let port: number;
let cert: CertificateFiles;
let scratch: string;
const violations: string[] = [];

beforeAll(async () => {
  cert = makeCertificateFiles();
  scratch = mkdtempSync(join(tmpdir(), 'pgspec-real-clients-'));
  engine = await PgliteEngine.create();
  server = new PgServer({
    engine,
    users: [`${SCRAM_USER}:scram-sha-256:${SCRAM_PASSWORD}`, '*:trust'],
    tls: { cert: cert.cert, key: cert.key },
    listeners: [{ host: '127.0.0.1', port: 0 }],
    onViolation: (r) => violations.push(`${r.protocol} ${r.state}: ${r.detail}`),
  });
  const [address] = await server.listen();
  port = address!.port!;
}, 120_000);

afterAll(async () => {
  // Closing the server closes the engine too; close the engine directly if the server never started.
  if (server) await server.close();
  else await engine?.close();
  cert?.remove();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function ok(r: RunResult): string {
  if (r.exitCode !== 0 || r.timedOut) throw new Error(`${r.command} failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

const conninfo = (extra = ''): string => `host=127.0.0.1 port=${port} dbname=postgres user=postgres ${extra}`;
const pgConfig = (): pg.ClientConfig => ({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });

async function withPg<T>(fn: (c: pg.Client) => Promise<T>, config: pg.ClientConfig = {}): Promise<T> {
  const c = new pg.Client({ ...pgConfig(), ...config });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------------------------------------
// psql

describeWithClient('psql', 'psql on PGlite', () => {
  it('runs queries, \\d and \\copy both ways (stdin/stdout and files)', async () => {
    const csv = join(scratch, 'fruit.csv');
    const script = `
create table fruit (id int primary key, name text not null, price numeric(6,2));
insert into fruit values (1, 'apple', 1.25), (2, 'pear', null);
\\copy fruit from stdin
3	plum	0.50
4	fig	\\N
\\.
select id || ':' || name || ':' || coalesce(price::text, 'null') as r from fruit order by id;
\\d fruit
\\copy (select id, upper(name) from fruit where id >= 3 order by id) to stdout
\\copy fruit to '${csv}' with (format csv, header)
create table fruit2 (like fruit);
\\copy fruit2 from '${csv}' with (format csv, header)
select 'copied ' || count(*) || ' ' || sum(price) from fruit2;
drop table fruit, fruit2;
`;
    const out = ok(await runPsql([conninfo(), '-v', 'ON_ERROR_STOP=1', '-f', '-'], script));
    expect(out).toContain(' 1:apple:1.25\n 2:pear:null\n 3:plum:0.50\n 4:fig:null\n');
    expect(out).toContain('Table "public.fruit"');
    expect(out).toMatch(/ name\s+\| text\s+\|\s+\| not null \|/);
    expect(out).toMatch(/ price\s+\| numeric\(6,2\)\s+\|/);
    expect(out).toContain('"fruit_pkey" PRIMARY KEY, btree (id)');
    expect(out).toContain('3\tPLUM\n4\tFIG\n');
    expect(out).toContain('copied 4 1.75');
    expect(readFileSync(csv, 'utf8')).toBe('id,name,price\n1,apple,1.25\n2,pear,\n3,plum,0.50\n4,fig,\n');
  });

  it('reports an error and goes on (ON_ERROR_STOP off), with the SQLSTATE', async () => {
    const r = await runPsql([conninfo(), '-At', '-v', 'VERBOSITY=verbose', '-c', 'select 1/0', '-c', 'select 5']);
    expect(r.stderr).toContain('ERROR:  22012: division by zero');
    expect(r.stdout.trim()).toBe('5');
  });

  it('connects with sslmode=require and with verify-ca against the self-signed certificate', async () => {
    for (const mode of [`sslmode=require`, `sslmode=verify-ca sslrootcert=${cert.certFile}`]) {
      const r = await runPsql([conninfo(mode), '-At', '-c', '\\conninfo', '-c', "select 'over tls'"]);
      expect(r.stderr, mode).toBe('');
      expect(r.stdout, mode).toMatch(/SSL connection \(protocol: TLSv1\.[23]/);
      expect(r.stdout.trim().split('\n').at(-1), mode).toBe('over tls');
    }
  });

  it('logs in a SCRAM user with channel_binding=require over TLS (SCRAM-SHA-256-PLUS)', async () => {
    const r = await runPsql(
      [`host=127.0.0.1 port=${port} dbname=postgres user=${SCRAM_USER} sslmode=require channel_binding=require`, '-At', '-c', 'select current_user'],
      undefined,
      { env: { PGPASSWORD: SCRAM_PASSWORD } },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(SCRAM_USER);
    // Without TLS there is nothing to bind to: libpq refuses before it sends a password.
    const plain = await runPsql(
      [`host=127.0.0.1 port=${port} dbname=postgres user=${SCRAM_USER} sslmode=disable channel_binding=require`, '-At', '-c', 'select 1'],
      undefined,
      { env: { PGPASSWORD: SCRAM_PASSWORD } },
    );
    expect(plain.exitCode).toBe(2);
    expect(plain.stderr).toContain('channel binding');
    // And a wrong password still fails with channel binding on.
    const wrong = await runPsql(
      [`host=127.0.0.1 port=${port} dbname=postgres user=${SCRAM_USER} sslmode=require channel_binding=require`, '-At', '-c', 'select 1'],
      undefined,
      { env: { PGPASSWORD: 'not-it' } },
    );
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain(`password authentication failed for user "${SCRAM_USER}"`);
  });

  // libpq sends GSSENCRequest only when it holds a Kerberos credential cache (none here), so this
  // shows that the option is harmless; the raw test below sends the request itself.
  it('connects with gssencmode=prefer (plaintext and then TLS)', async () => {
    for (const mode of ['gssencmode=prefer sslmode=disable', 'gssencmode=prefer sslmode=require']) {
      const r = await runPsql([conninfo(mode), '-At', '-c', '\\conninfo', '-c', 'select 11']);
      expect(r.stderr, mode).toBe('');
      expect(r.stdout.includes('SSL connection'), mode).toBe(mode.endsWith('require'));
      expect(r.stdout.trim().split('\n').at(-1), mode).toBe('11');
    }
  });
});

it('answers a GSSENCRequest with N and then serves a StartupMessage on the same socket', async () => {
  const socket = connect({ host: '127.0.0.1', port });
  const received: Buffer[] = [];
  socket.on('data', (b: Buffer) => received.push(b));
  const until = async (check: (all: Buffer) => boolean): Promise<Buffer> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const all = Buffer.concat(received);
      if (check(all)) return all;
      if (Date.now() > deadline) throw new Error(`no answer; got ${all.toString('hex')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const gss = Buffer.alloc(8);
    gss.writeInt32BE(8, 0);
    gss.writeInt32BE(80877104, 4);
    socket.write(gss);
    expect((await until((b) => b.length >= 1)).toString('latin1')).toBe('N');
    const body = Buffer.from('user\0postgres\0database\0postgres\0\0');
    const startupMessage = Buffer.alloc(8 + body.length);
    startupMessage.writeInt32BE(startupMessage.length, 0);
    startupMessage.writeInt32BE(196608, 4);
    body.copy(startupMessage, 8);
    socket.write(startupMessage);
    // AuthenticationOk ... ReadyForQuery('I').
    const all = await until((b) => b.length >= 7 && b.subarray(-6).equals(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])));
    expect(all.subarray(1, 10)).toEqual(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]));
  } finally {
    socket.destroy();
  }
});

// ---------------------------------------------------------------------------------------------
// pgbench

describeWithClient(['pgbench', 'node-pg'], 'pgbench on PGlite', () => {
  const conn = (): string[] => ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'postgres'];
  const expectAllDone = (out: string, mode: string, total: number): void => {
    expect(out, mode).toContain(`query mode: ${mode}`);
    expect(out, mode).toContain(`number of transactions actually processed: ${total}/${total}`);
    expect(out, mode).toMatch(/number of failed transactions: 0 \(0\.000%\)/);
  };

  afterAll(async () => {
    await withPg((c) => c.query('drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers'));
  });

  it('initializes at scale 1 (COPY of 100 000 rows, vacuum, primary keys)', async () => {
    const init = await runPgbench(['-i', '-s', '1', '-q', ...conn()], { timeoutMs: 60_000 });
    ok(init);
    expect(init.stderr).toMatch(/done in [\d.]+ s \(drop tables/);
    const counts = await withPg(async (c) => (await c.query('select (select count(*) from pgbench_accounts)::int as accounts, (select count(*) from pgbench_tellers)::int as tellers')).rows[0]);
    expect(counts).toEqual({ accounts: 100_000, tellers: 10 });
  });

  it.each(['simple', 'extended'])('-M %s -c 4 -t 50: every transaction succeeds', async (mode) => {
    expectAllDone(ok(await runPgbench(['-n', '-M', mode, '-c', '4', '-t', '50', ...conn()], { timeoutMs: 60_000 })), mode, 200);
  });

  it('-M prepared -c 4 -j 4 -t 50 (a thread per client): every transaction succeeds', async () => {
    expectAllDone(ok(await runPgbench(['-n', '-M', 'prepared', '-c', '4', '-j', '4', '-t', '50', ...conn()], { timeoutMs: 60_000 })), 'prepared', 200);
  });

  it('leaves the tpcb-like balances consistent', async () => {
    const check = await withPg(async (c) =>
      (
        await c.query(
          `select (select count(*) from pgbench_history)::int as history,
                  (select sum(abalance) from pgbench_accounts) = (select sum(delta) from pgbench_history) as accounts,
                  (select sum(tbalance) from pgbench_tellers) = (select sum(delta) from pgbench_history) as tellers,
                  (select sum(bbalance) from pgbench_branches) = (select sum(delta) from pgbench_history) as branches`,
        )
      ).rows[0],
    );
    expect(check).toEqual({ history: 600, accounts: true, tellers: true, branches: true });
  });
});

// ---------------------------------------------------------------------------------------------
// node-postgres

describeWithClient('node-pg', 'node-postgres on PGlite', () => {
  it('simple, parameterized and named prepared queries', async () => {
    await withPg(async (c) => {
      const simple = await c.query("select 1 as one, 'two' as two; select 3 as three");
      expect((simple as unknown as pg.QueryResult[]).map((r) => r.rows)).toEqual([[{ one: 1, two: 'two' }], [{ three: 3 }]]);
      const params = await c.query('select $1::int + $2::int as sum, $3::text as t, $4::text as n, $5::jsonb as j', [40, 2, 'é', null, { a: [1] }]);
      expect(params.rows).toEqual([{ sum: 42, t: 'é', n: null, j: { a: [1] } }]);
      await c.query('create table np_prep (id int primary key, label text)');
      const returned: unknown[] = [];
      for (const id of [1, 2, 3, 4]) {
        const r = await c.query({ name: 'np-insert', text: 'insert into np_prep values ($1, $2) returning id, label', values: [id, `row ${id}`] });
        returned.push(r.rows[0]);
      }
      expect(returned).toEqual([1, 2, 3, 4].map((id) => ({ id, label: `row ${id}` })));
      const sel = await c.query({ name: 'np-select', text: 'select count(*)::int as n from np_prep where id > $1', values: [1] });
      expect(sel.rows).toEqual([{ n: 3 }]);
      const again = await c.query({ name: 'np-select', text: 'select count(*)::int as n from np_prep where id > $1', values: [3] });
      expect(again.rows).toEqual([{ n: 1 }]);
      await expect(c.query('select * from no_such_table')).rejects.toMatchObject({ code: '42P01' });
      expect((await c.query('select 7 as after')).rows).toEqual([{ after: 7 }]);
      await c.query('drop table np_prep');
    });
  });

  it('pg-cursor reads in batches with a row limit (Execute max_rows, PortalSuspended)', async () => {
    await withPg(async (c) => {
      const cursor = c.query(new Cursor('select n, n * 2 as twice from generate_series(1, $1::int) n', [1003]));
      const batches: number[] = [];
      let last: Record<string, unknown> | undefined;
      let sum = 0;
      for (;;) {
        const rows = await cursor.read(300);
        if (rows.length === 0) break;
        batches.push(rows.length);
        for (const r of rows) sum += r.n as number;
        last = rows.at(-1);
      }
      await cursor.close();
      expect(batches).toEqual([300, 300, 300, 103]);
      expect(sum).toBe((1003 * 1004) / 2);
      expect(last).toEqual({ n: 1003, twice: 2006 });
      expect((await c.query('select 1 as fine')).rows).toEqual([{ fine: 1 }]);
    });
  });

  it('COPY in and out through pg-copy-streams', async () => {
    await withPg(async (c) => {
      await c.query('create table np_copy (id int, label text, at date)');
      const lines = Array.from({ length: 2000 }, (_, i) => `${i}\tlabel ${i}\t${i % 2 === 0 ? '2024-02-29' : '\\N'}\n`);
      await pipeline(Readable.from(lines), c.query(copyStreams.from('copy np_copy from stdin')));
      expect((await c.query('select count(*)::int as n, count(at)::int as dated, max(id) as mx from np_copy')).rows).toEqual([{ n: 2000, dated: 1000, mx: 1999 }]);
      const chunks: Buffer[] = [];
      await pipeline(
        c.query(copyStreams.to('copy (select * from np_copy order by id) to stdout')),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            chunks.push(chunk);
            cb();
          },
        }),
      );
      expect(Buffer.concat(chunks).toString()).toBe(lines.join(''));
      // A failed COPY (bad data) leaves the session usable.
      await expect(pipeline(Readable.from(['x\ty\tz\n']), c.query(copyStreams.from('copy np_copy from stdin')))).rejects.toMatchObject({ code: '22P02' });
      expect((await c.query('select count(*)::int as n from np_copy')).rows).toEqual([{ n: 2000 }]);
      await c.query('drop table np_copy');
    });
  });

  it('delivers NOTIFY from one client to another, idle, listening client', async () => {
    const listener = new pg.Client(pgConfig());
    const notifier = new pg.Client(pgConfig());
    await listener.connect();
    await notifier.connect();
    try {
      const got: pg.Notification[] = [];
      const two = new Promise<void>((resolve) =>
        listener.on('notification', (n) => {
          got.push(n);
          if (got.length === 2) resolve();
        }),
      );
      await listener.query('listen "np chan"');
      await notifier.query(`notify "np chan", 'hello'`);
      // Inside a transaction: delivered at commit, not before.
      await notifier.query('begin');
      await notifier.query(`select pg_notify('np chan', 'from a transaction')`);
      await new Promise((r) => setTimeout(r, 200));
      expect(got.map((n) => n.payload)).toEqual(['hello']);
      await notifier.query('commit');
      await two;
      expect(got.map((n) => [n.channel, n.payload])).toEqual([
        ['np chan', 'hello'],
        ['np chan', 'from a transaction'],
      ]);
      const notifierPid = (notifier as unknown as { processID: number }).processID;
      expect(got.map((n) => n.processId)).toEqual([notifierPid, notifierPid]);
      await listener.query('unlisten *');
    } finally {
      await Promise.all([listener.end(), notifier.end()]);
    }
  });

  it("cancels select pg_sleep(10) with node-postgres' own cancel (57014) and the session goes on", async () => {
    await withPg(async (c) => {
      const t0 = Date.now();
      const query = c.query('select pg_sleep(10)');
      await new Promise((r) => setTimeout(r, 500));
      const canceller = new pg.Client(pgConfig());
      canceller.on('error', () => undefined);
      // Client#cancel (untyped) opens a connection of its own and sends the CancelRequest.
      const cancel = (canceller as unknown as { cancel(target: pg.Client, query: unknown): void }).cancel.bind(canceller);
      cancel(c, (c as unknown as { activeQuery: unknown }).activeQuery);
      await expect(query).rejects.toMatchObject({ code: '57014', message: 'canceling statement due to user request' });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect((await c.query('select 42 as n')).rows).toEqual([{ n: 42 }]);
    });
  });

  it('an error in the middle of a pipeline: true batch fails only that query', async () => {
    await withPg(
      async (c) => {
        const results = await Promise.allSettled([
          c.query('select 1 as a'),
          c.query('select $1::int * 2 as b', [21]),
          c.query('select 1/0 as boom'),
          c.query('select $1::text as c', ['after']),
          c.query('select count(*)::int as n from generate_series(1, 10)'),
        ]);
        expect(results.map((r) => (r.status === 'fulfilled' ? r.value.rows : (r.reason as { code: string }).code))).toEqual([
          [{ a: 1 }],
          [{ b: 42 }],
          '22012',
          [{ c: 'after' }],
          [{ n: 10 }],
        ]);
      },
      { pipeline: true } as pg.ClientConfig,
    );
  });

  it('20 concurrent clients, each with a transaction of its own', async () => {
    await withPg((c) => c.query('create table np_conc (client int, n int)'));
    const clients = Array.from({ length: 20 }, () => new pg.Client(pgConfig()));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      expect(server.connectionCount).toBeGreaterThanOrEqual(20);
      const sums = await Promise.all(
        clients.map(async (c, i) => {
          await c.query('begin');
          for (let n = 1; n <= 5; n++) await c.query('insert into np_conc values ($1, $2)', [i, n]);
          const inside = await c.query('select sum(n)::int as s from np_conc where client = $1', [i]);
          await c.query('commit');
          const name = await c.query('select $1::text as who', [`client ${i}`]);
          return [inside.rows[0].s as number, name.rows[0].who as string];
        }),
      );
      expect(sums).toEqual(clients.map((_, i) => [15, `client ${i}`]));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const total = await withPg(async (c) => (await c.query('select count(*)::int as rows, count(distinct client)::int as clients from np_conc')).rows[0]);
    expect(total).toEqual({ rows: 100, clients: 20 });
    await withPg((c) => c.query('drop table np_conc'));
  });
});

// ---------------------------------------------------------------------------------------------
// postgres.js

describeWithClient('postgres.js', 'postgres.js on PGlite', () => {
  it('pipelines concurrent queries on one connection, an error among them, and a transaction', async () => {
    const sql = postgres({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max: 1, onnotice: () => undefined });
    try {
      const squares = Array.from({ length: 50 }, (_, i) => sql`select ${i}::int * ${i}::int as sq`);
      const failing = sql`select 1 / ${0}::int as boom`.catch((e: { code: string }) => e.code);
      const series = sql`select array_agg(g) as gs from generate_series(1, ${6}::int) g`;
      const results = await Promise.all([...squares, failing, series]);
      expect(results.slice(0, 50).map((r) => (r as postgres.RowList<{ sq: number }[]>)[0]!.sq)).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
      expect(results[50]).toBe('22012');
      expect((results[51] as postgres.RowList<{ gs: number[] }[]>)[0]!.gs).toEqual([1, 2, 3, 4, 5, 6]);
      const total = await sql.begin(async (t) => {
        await t`create temp table pj (v int)`;
        await Promise.all([t`insert into pj ${t([{ v: 1 }, { v: 2 }, { v: 3 }])}`, t`insert into pj values (${10})`]);
        return t`select sum(v)::int as s from pj`;
      });
      expect(total[0]!.s).toBe(16);
    } finally {
      await sql.end();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// psycopg 3

const PSYCOPG = `
import os, psycopg
with psycopg.connect(host='127.0.0.1', port=int(os.environ['PORT']), user='postgres', dbname='postgres', sslmode='disable', autocommit=True) as c:
    c.execute('create table py_pipe (id int primary key, v text)')
    with c.pipeline() as p:
        curs = [c.execute('insert into py_pipe values (%s, %s) returning id * 10', [i, 'v%d' % i]) for i in range(25)]
        last = c.execute("select count(*), max(id), string_agg(v, ',' order by id) filter (where id < 3) from py_pipe")
        p.sync()
        print('returning', sum(cur.fetchone()[0] for cur in curs))
        print('pipeline', last.fetchone())
    try:
        with c.pipeline():
            c.execute('insert into py_pipe values (100, %s)', ['rolled back'])
            c.execute('select 1/0')
            c.execute('insert into py_pipe values (101, %s)', ['skipped'])
    # One Sync at the end: the implicit transaction is rolled back as a whole, as on PostgreSQL 15.
    except psycopg.errors.DivisionByZero as e:
        print('error', e.sqlstate)
    print('after', c.execute('select array_agg(id order by id) from py_pipe where id >= 100').fetchone()[0])
    print('pipeline_status', c.pgconn.pipeline_status)
    c.execute('drop table py_pipe')
`;

describeWithClient('psycopg', 'psycopg 3 on PGlite', () => {
  it('runs statements in pipeline mode; an error in a pipeline rolls back its implicit transaction', async () => {
    const out = ok(await runPython(PSYCOPG, { PORT: String(port) }));
    expect(out).toBe(
      [
        `returning ${10 * ((24 * 25) / 2)}`,
        "pipeline (25, 24, 'v0,v1,v2')",
        'error 22012',
        'after None',
        'pipeline_status 0',
        '',
      ].join('\n'),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// pgJDBC

const JAVA = `
import java.sql.*;
public class PgliteJdbc {
  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://127.0.0.1:" + System.getenv("PORT") + "/postgres?sslmode=disable";
    try (Connection c = DriverManager.getConnection(url, "postgres", "")) {
      try (Statement s = c.createStatement()) { s.execute("create table jdbc_t (id int primary key, v text)"); }
      try (PreparedStatement p = c.prepareStatement("insert into jdbc_t values (?, ?)")) {
        for (int i = 1; i <= 300; i++) { p.setInt(1, i); p.setString(2, "row" + i); p.addBatch(); }
        int[] counts = p.executeBatch();
        int total = 0; for (int n : counts) total += n;
        System.out.println("batch " + counts.length + " " + total);
      }
      c.setAutoCommit(false);
      try (PreparedStatement p = c.prepareStatement("select id, v from jdbc_t where id > ? order by id")) {
        p.setFetchSize(64);
        p.setInt(1, 0);
        try (ResultSet r = p.executeQuery()) {
          int n = 0; long sum = 0; String last = null;
          while (r.next()) { n++; sum += r.getInt(1); last = r.getString(2); }
          System.out.println("fetch " + n + " " + sum + " " + last);
        }
      }
      c.commit();
      for (int k = 1; k <= 7; k++) {
        try (PreparedStatement p = c.prepareStatement("select count(*) from jdbc_t where id <= ?")) {
          p.setInt(1, k * 10);
          try (ResultSet r = p.executeQuery()) { r.next(); System.out.print((k == 1 ? "counts" : "") + " " + r.getLong(1)); }
        }
      }
      System.out.println();
      c.commit();
      try (Statement s = c.createStatement()) { s.executeQuery("select 1/0"); } catch (SQLException e) { System.out.println("error " + e.getSQLState()); c.rollback(); }
      c.setAutoCommit(true);
      try (Statement s = c.createStatement()) { s.execute("drop table jdbc_t"); }
    }
  }
}
`;

describeWithClient('pgjdbc', 'pgJDBC on PGlite', () => {
  it('batch inserts, fetchSize paging through PortalSuspended, server-prepared statements, errors', async () => {
    const out = ok(await runJava(JAVA, [], { env: { PORT: String(port) }, timeoutMs: 120_000 }));
    expect(out).toBe(['batch 300 300', `fetch 300 ${(300 * 301) / 2} row300`, 'counts 10 20 30 40 50 60 70', 'error 22012', ''].join('\n'));
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------
// pgx v4

const GO = `
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v4"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:"+os.Getenv("PORT")+"/postgres?sslmode=disable")
	must(err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "create table pgx_t (id int primary key, v text, f float8)")
	must(err)

	rows := make([][]interface{}, 0, 500)
	for i := 0; i < 500; i++ {
		rows = append(rows, []interface{}{i, fmt.Sprintf("v%03d", i), float64(i) / 4})
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"pgx_t"}, []string{"id", "v", "f"}, pgx.CopyFromRows(rows))
	must(err)
	fmt.Println("copyfrom", n)

	// A second CopyFrom whose data breaks the primary key: the error comes back, the connection lives.
	_, err = c.CopyFrom(ctx, pgx.Identifier{"pgx_t"}, []string{"id", "v", "f"}, pgx.CopyFromRows([][]interface{}{{1, "dup", 0.0}}))
	fmt.Println("copyfrom dup error", err != nil)

	b := &pgx.Batch{}
	b.Queue("insert into pgx_t values ($1, $2, $3)", 1000, "batched", 1.5)
	b.Queue("select count(*) from pgx_t")
	b.Queue("select v from pgx_t where id = $1", 123)
	b.Queue("select sum(f) from pgx_t where id < $1", 500)
	br := c.SendBatch(ctx, b)
	tag, err := br.Exec()
	must(err)
	var count int64
	must(br.QueryRow().Scan(&count))
	var v string
	must(br.QueryRow().Scan(&v))
	var sum float64
	must(br.QueryRow().Scan(&sum))
	must(br.Close())
	fmt.Println("batch", tag.String(), count, v, sum)

	eb := &pgx.Batch{}
	eb.Queue("select 1")
	eb.Queue("select 1/0")
	eb.Queue("select 3")
	ebr := c.SendBatch(ctx, eb)
	var one, three int
	err1 := ebr.QueryRow().Scan(&one)
	err2 := ebr.QueryRow().Scan(&three)
	ebr.Close()
	fmt.Println("error batch", one, err1 == nil, err2 != nil)

	var after string
	must(c.QueryRow(ctx, "select 'after ' || count(*) from pgx_t").Scan(&after))
	fmt.Println(after)
	_, err = c.Exec(ctx, "drop table pgx_t")
	must(err)
}
`;

describeWithClient('pgx', 'pgx v4 on PGlite', () => {
  it('CopyFrom (data sent before the server answers) and Batches, one with an error', async () => {
    const out = ok(await runGo(GO, { PORT: String(port) }, { timeoutMs: 120_000 }));
    expect(out).toBe(['copyfrom 500', 'copyfrom dup error true', 'batch INSERT 0 1 501 v123 31187.5', 'error batch 1 true true', 'after 501', ''].join('\n'));
  }, 240_000);
});

it('reported no protocol violations by the server', () => {
  expect(violations).toEqual([]);
});
