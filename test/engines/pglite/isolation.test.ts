/**
 * The isolation bugs of a naive server in front of one PGlite (pglite-socket), each as a test that
 * fails on such a server: sessions here share one PGlite backend.
 */
import { afterAll, afterEach, beforeAll, describe as group, expect, test } from 'vitest';
import { PgliteEngine } from '../../../runtime/engines/pglite/index.js';
import { closeAll, bind, describe, errorMessage, execute, flush, isPending, openSession, parse, q, sync } from './helpers.js';

let engine: PgliteEngine;
beforeAll(async () => {
  engine = await PgliteEngine.create();
});
afterEach(closeAll);
afterAll(async () => {
  await engine?.close();
});

group('no spurious ReadyForQuery (pglite#958)', () => {
  test('an error in a pipeline skips to Sync and answers one ReadyForQuery', async () => {
    const a = await openSession(engine);
    expect(await a.run(parse('', 'select 1/0'), bind('', ''), execute(), parse('', 'select 2'), bind('', ''), execute(), sync)).toBe('1 E(22012) Z(I)');
    expect(await a.run(parse('', 'select 2'), bind('', ''), execute(), sync)).toBe('1 2 D[2] C(SELECT 1) Z(I)');
    await a.session.close();
  });

  test('an error in a batch split over several runs answers nothing until the Sync', async () => {
    const a = await openSession(engine);
    expect(await a.run(parse('', 'selec 1'))).toBe('E(42601)');
    expect(await a.run(bind('', ''), execute())).toBe('');
    expect(await a.run(sync)).toBe('Z(I)');
    await a.session.close();
  });

  test('another session does not run inside a batch that has not reached its Sync', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    expect(await a.run(parse('', 'select 1/0'), bind('', ''), execute(), flush)).toBe('1 E(22012)');
    const bRun = b.run(q('select 7'));
    expect(await isPending(bRun)).toBe(true);
    expect(await a.run(parse('', 'select 3'), bind('', ''), execute(), sync)).toBe('Z(I)');
    expect(await bRun).toBe('T D[7] C(SELECT 1) Z(I)');
    await a.session.close();
    await b.session.close();
  });
});

group('statements are private to a session (pglite PR#977)', () => {
  test("one session's unnamed statement is not replaced by another's", async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    expect(await a.run(parse('', 'select 1 as a'), sync)).toBe('1 Z(I)');
    expect(await b.run(parse('', 'select 2 as b'), sync)).toBe('1 Z(I)');
    expect(await a.run(bind('', ''), execute(), sync)).toBe('2 D[1] C(SELECT 1) Z(I)');
    expect(await b.run(bind('', ''), execute(), sync)).toBe('2 D[2] C(SELECT 1) Z(I)');
    await a.session.close();
    await b.session.close();
  });

  test("a session cannot bind another session's unnamed statement", async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    await a.run(parse('', 'select 1'), sync);
    const out = await b.runRaw(bind('', ''), execute(), sync);
    expect(errorMessage(out)).toBe('unnamed prepared statement does not exist');
    await a.session.close();
    await b.session.close();
  });

  test('the same statement name in two sessions names two statements', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    expect(await a.run(parse('S_1', 'select $1::int + 1'), sync)).toBe('1 Z(I)');
    expect(await b.run(parse('S_1', "select 'b'"), sync)).toBe('1 Z(I)');
    expect(await a.run(bind('', 'S_1', ['41']), execute(), sync)).toBe('2 D[42] C(SELECT 1) Z(I)');
    expect(await b.run(bind('', 'S_1'), execute(), sync)).toBe('2 D[b] C(SELECT 1) Z(I)');
    const dup = await a.runRaw(parse('S_1', 'select 1'), sync);
    expect(errorMessage(dup)).toBe('prepared statement "S_1" already exists');
    const missing = await b.runRaw(describe('S', 'nope'), sync);
    expect(errorMessage(missing)).toBe('prepared statement "nope" does not exist');
    await a.session.close();
    await b.session.close();
  });

  test('a simple Query destroys the unnamed statement, as in PostgreSQL', async () => {
    const a = await openSession(engine);
    await a.run(parse('', 'select 1'), sync);
    await a.run(q('select 2'));
    expect(errorMessage(await a.runRaw(bind('', ''), execute(), sync))).toBe('unnamed prepared statement does not exist');
    await a.session.close();
  });

  test('a closed session leaves no statement behind; SQL DEALLOCATE of a protocol statement works', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    await a.run(parse('dbdpg_p1_1', 'select 1'), parse('keep', 'select 2'), parse('', 'select 3'), sync);
    expect(await a.run(q('DEALLOCATE dbdpg_p1_1'))).toBe('C(DEALLOCATE) Z(I)');
    await a.session.close();
    expect(await b.run(q('select count(*) from pg_prepared_statements'))).toBe('T D[0] C(SELECT 1) Z(I)');
    await b.session.close();
  });

  test("DEALLOCATE ALL in one session does not drop another session's statements", async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    await b.run(parse('mine', 'select 5'), sync);
    expect(await a.run(q('DEALLOCATE ALL'))).toBe('C(DEALLOCATE ALL) Z(I)');
    expect(await b.run(bind('', 'mine'), execute(), sync)).toBe('2 D[5] C(SELECT 1) Z(I)');
    await a.session.close();
    await b.session.close();
  });
});

group('one session at a time, in order, never stuck (pglite#1046)', () => {
  test('a transaction block keeps the backend until it ends; the others wait in arrival order', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    const c = await openSession(engine);
    await a.run(q('create table if not exists t1046(v int)'));
    expect(await a.run(q('begin; insert into t1046 values (1)'))).toBe('C(BEGIN) C(INSERT 0 1) Z(T)');
    const order: string[] = [];
    const bRun = b.run(q('select count(*) from t1046')).then((r) => (order.push('b'), r));
    const cRun = c.run(q('select count(*) from t1046')).then((r) => (order.push('c'), r));
    expect(await isPending(bRun)).toBe(true);
    expect(await a.run(q('insert into t1046 values (2)'))).toBe('C(INSERT 0 1) Z(T)');
    expect(await a.run(q('rollback'))).toBe('C(ROLLBACK) Z(I)');
    expect(await bRun).toBe('T D[0] C(SELECT 1) Z(I)');
    expect(await cRun).toBe('T D[0] C(SELECT 1) Z(I)');
    expect(order).toEqual(['b', 'c']);
    for (const s of [a, b, c]) await s.session.close();
  });

  test('a session that disconnects inside a transaction releases the backend and rolls back', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    await a.run(q('create table if not exists tgone(v int)'));
    await a.run(q('begin; insert into tgone values (1)'));
    const bRun = b.run(q('select count(*) from tgone'));
    expect(await isPending(bRun)).toBe(true);
    await a.session.close();
    expect(await bRun).toBe('T D[0] C(SELECT 1) Z(I)');
    await b.session.close();
  });

  test('a session that disconnects in the middle of an extended batch leaves nothing committed', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    await a.run(q('create table if not exists thalf(v int)'));
    expect(await a.run(parse('', 'insert into thalf values (1)'), bind('', ''), execute(), flush)).toBe('1 2 C(INSERT 0 1)');
    await a.session.close();
    expect(await b.run(q('select count(*) from thalf'))).toBe('T D[0] C(SELECT 1) Z(I)');
    await b.session.close();
  });

  test('a session waiting for the backend can disconnect without blocking the queue', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    const c = await openSession(engine);
    await a.run(q('begin'));
    const bRun = b.run(q('select 1'));
    const cRun = c.run(q('select 2'));
    await b.session.close();
    await expect(bRun).rejects.toThrow();
    await a.run(q('commit'));
    expect(await cRun).toBe('T D[2] C(SELECT 1) Z(I)');
    await a.session.close();
    await c.session.close();
  });
});

group('settings are per session', () => {
  test("SET in one session is not seen by another, and comes back when the session runs again", async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    expect(await a.run(q("set datestyle = 'German'"))).toBe('C(SET) S(DateStyle=German, DMY) Z(I)');
    expect(await b.run(q('show datestyle'))).toBe('T D[ISO, MDY] C(SHOW) Z(I)');
    expect(await a.run(q('show datestyle'))).toBe('T D[German, DMY] C(SHOW) Z(I)');
    expect(await a.run(q("select set_config('search_path', 'pg_catalog', false) is not null"))).toContain('Z(I)');
    expect(await b.run(q('show search_path'))).toBe('T D[public] C(SHOW) Z(I)');
    expect(await a.run(q('show search_path'))).toBe('T D[pg_catalog] C(SHOW) Z(I)');
    await a.session.close();
    await b.session.close();
  });

  test('SET ROLE does not leak to the next session', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    await a.run(q('create role r_iso'));
    await a.run(q('set role r_iso'));
    expect(await b.run(q('select current_user'))).toBe('T D[postgres] C(SELECT 1) Z(I)');
    expect(await a.run(q('select current_user'))).toBe('T D[r_iso] C(SELECT 1) Z(I)');
    await a.session.close();
    await b.session.close();
  });

  test('startup parameters become the session settings and its ParameterStatus', async () => {
    const a = await openSession(engine, { application_name: 'app-a', DateStyle: 'ISO, DMY', options: '-c search_path=pg_catalog' });
    const b = await openSession(engine);
    const ps = new Map(a.session.parameterStatus);
    expect(ps.get('application_name')).toBe('app-a');
    expect(ps.get('DateStyle')).toBe('ISO, DMY');
    expect(ps.get('search_path')).toBe('pg_catalog');
    expect(ps.get('server_version')).toMatch(/^18\./);
    expect(ps.get('session_authorization')).toBe('postgres');
    expect([...new Map(b.session.parameterStatus).keys()]).toHaveLength(15);
    expect(new Map(b.session.parameterStatus).get('application_name')).toBe('');
    expect(await b.run(q('show application_name'))).toBe('T D[] C(SHOW) Z(I)');
    expect(await a.run(q('show application_name'))).toBe('T D[app-a] C(SHOW) Z(I)');
    await a.session.close();
    await b.session.close();
  });

  test('an unknown startup parameter fails the session like PostgreSQL', async () => {
    await expect(openSession(engine, { no_such_setting: 'x' })).rejects.toMatchObject({ sqlstate: '42704' });
    const b = await openSession(engine);
    expect(await b.run(q('select 1'))).toBe('T D[1] C(SELECT 1) Z(I)');
    await b.session.close();
  });
});
