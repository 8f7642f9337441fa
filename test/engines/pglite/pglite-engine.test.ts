/** The engine as a whole: what it reports at startup, a data directory that persists, pipelines and closing. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { PgliteEngine } from '../../../runtime/engines/pglite/index.js';
import { bind, closeAll, describe, execute, flush, openSession, parse, q, sync } from './helpers.js';

let engine: PgliteEngine;
beforeAll(async () => {
  engine = await PgliteEngine.create();
});
afterEach(closeAll);
afterAll(async () => {
  await engine?.close();
});

test("reports PostgreSQL 18's ParameterStatus set with the backend's values", async () => {
  const a = await openSession(engine);
  expect(a.session.parameterStatus.map(([n]) => n)).toEqual([
    'in_hot_standby', 'integer_datetimes', 'TimeZone', 'IntervalStyle', 'search_path', 'is_superuser', 'application_name',
    'default_transaction_read_only', 'scram_iterations', 'DateStyle', 'standard_conforming_strings', 'session_authorization',
    'client_encoding', 'server_version', 'server_encoding',
  ]);
  const ps = new Map(a.session.parameterStatus);
  expect(ps.get('server_version')).toMatch(/^18\.\d+$/);
  expect(ps.get('client_encoding')).toBe('UTF8');
  expect(ps.get('integer_datetimes')).toBe('on');
});

test('accepts the startup quirks of real clients (asyncpg quoted encoding, lib/pq datestyle, JDBC)', async () => {
  const a = await openSession(engine, { client_encoding: "'utf-8'", datestyle: 'ISO, MDY', extra_float_digits: '2', TimeZone: 'Europe/Berlin' });
  const ps = new Map(a.session.parameterStatus);
  expect(ps.get('client_encoding')).toBe('UTF8');
  expect(ps.get('TimeZone')).toBe('Europe/Berlin');
  expect(await a.run(q('show extra_float_digits'))).toBe('T D[2] C(SHOW) Z(I)');
});

test('a pipeline of several Syncs answers each in order', async () => {
  const a = await openSession(engine);
  const out = await a.run(
    parse('p1', 'select $1::int * 2'), describe('S', 'p1'), sync,
    bind('', 'p1', ['2']), execute(), sync,
    bind('', 'p1', ['x']), execute(), sync,
    bind('', 'p1', ['5']), execute(), sync,
  );
  expect(out).toBe('1 t T Z(I) 2 D[4] C(SELECT 1) Z(I) E(22P02) Z(I) 2 D[10] C(SELECT 1) Z(I)');
});

test('row limits and Flush: a cursor pages through a portal (pg-cursor)', async () => {
  const a = await openSession(engine);
  expect(await a.run(parse('', 'select generate_series(1, 3)'), bind('c1', ''), describe('P', 'c1'), flush)).toBe('1 2 T');
  expect(await a.run(execute('c1', 2), flush)).toBe('D[1] D[2] s');
  expect(await a.run(execute('c1', 2), flush)).toBe('D[3] C(SELECT 1)');
  expect(await a.run(sync)).toBe('Z(I)');
});

test('many sessions in turn: each sees only its own answers', async () => {
  const sessions = await Promise.all(Array.from({ length: 8 }, () => openSession(engine)));
  const results = await Promise.all(
    sessions.map((s, i) => s.run(parse('', `select ${i}`), bind('', ''), execute(), sync, q(`select ${i} + 100`))),
  );
  results.forEach((r, i) => expect(r).toBe(`1 2 D[${i}] C(SELECT 1) Z(I) T D[${i + 100}] C(SELECT 1) Z(I)`));
});

test('a simple Query after extended messages without Sync commits them, as PostgreSQL does', async () => {
  const a = await openSession(engine);
  expect(await a.run(parse('', 'select 1'), bind('', ''), execute())).toBe('1 2 D[1] C(SELECT 1)');
  expect(await a.run(q('select 2'))).toBe('T D[2] C(SELECT 1) Z(I)');
  expect(await a.run(q('select 3'))).toBe('T D[3] C(SELECT 1) Z(I)');
});

test('the session runs as its user (a role is created for it); the database must exist', async () => {
  const user = await openSession(engine, {}, 'alice');
  expect(new Map(user.session.parameterStatus).get('session_authorization')).toBe('alice');
  expect(await user.run(q('select current_user, session_user'))).toBe('T D[alice,alice] C(SELECT 1) Z(I)');
  const other = await openSession(engine);
  expect(await other.run(q('select current_user'))).toBe('T D[postgres] C(SELECT 1) Z(I)');
  await expect(openSession(engine, {}, 'postgres', 'no_such_db')).rejects.toMatchObject({ sqlstate: '3D000' });
});

test('a client encoding PGlite cannot convert to is refused instead of crashing the engine', async () => {
  await expect(openSession(engine, { client_encoding: 'LATIN1' })).rejects.toMatchObject({ sqlstate: '0A000' });
  const a = await openSession(engine);
  expect(await a.run(q("set client_encoding = 'LATIN1'"))).toBe('C(SET) Z(I) N(0A000)');
  expect(await a.run(q("select 'é' as e, current_setting('client_encoding')"))).toBe('T D[é,UTF8] C(SELECT 1) Z(I)');
});

test('a data directory keeps its data across engines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgspec-pglite-'));
  try {
    const first = await PgliteEngine.create({ dataDir: dir });
    const a = await openSession(first);
    await a.run(q("create table kept(v text); insert into kept values ('still here')"));
    await a.session.close();
    await first.close();
    const second = await PgliteEngine.create({ dataDir: dir });
    const b = await openSession(second);
    expect(await b.run(q('select v from kept'))).toBe('T D[still here] C(SELECT 1) Z(I)');
    await b.session.close();
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);

test('a parameter is reported only when its value changes for this client, as PostgreSQL 14+ does', async () => {
  const a = await openSession(engine, { application_name: 'same' });
  const b = await openSession(engine);
  expect(await a.run(q("set application_name = 'same'"))).toBe('C(SET) Z(I)');
  expect(await a.run(q("set application_name = 'other'"))).toBe('C(SET) S(application_name=other) Z(I)');
  expect(await b.run(q("set application_name = 'other'"))).toBe('C(SET) S(application_name=other) Z(I)');
  expect(await a.run(q("select set_config('application_name', 'other', false)"))).toBe('T D[other] C(SELECT 1) Z(I)');
  expect(await a.run(q("set application_name = 'same'"))).toBe('C(SET) S(application_name=same) Z(I)');
});
