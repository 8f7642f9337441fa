/**
 * PgliteSession.sideQuery, the hook the Cloudberry executor measures with: a query run between two
 * of the client's runs, in the session's own backend state, that the client cannot tell ran.
 */
import { beforeAll, expect, test } from 'vitest';
import { bind, engineForFile, describe, execute, flush, isPending, openSession, parse, q, sync } from './helpers.js';

const engine = engineForFile();
beforeAll(async () => {
  const setup = await openSession(engine());
  expect(await setup.run(q('create table side_t (k int)'))).toBe('C(CREATE TABLE) Z(I)');
  await setup.session.close();
});

/** What this transaction has inserted into side_t and not yet handed to the shared statistics. */
const PENDING_INSERTS = "select pg_stat_get_xact_tuples_inserted('side_t'::regclass)::text";
const side = { keepBackend: false };

test("at a Sync point: the client's unnamed statement survives and no answer of the side query reaches the client", async () => {
  const a = await openSession(engine());
  expect(await a.run(parse('', 'select 41 + 1'), sync)).toBe('1 Z(I)');
  expect(await a.session.sideQuery('select 7', side)).toEqual([['7']]);
  expect(await a.run(bind('', ''), execute(), sync)).toBe('2 D[42] C(SELECT 1) Z(I)');
});

test("inside a transaction block: the client's unnamed portal survives across the Sync, and the block stays open", async () => {
  const a = await openSession(engine());
  expect(await a.run(q('begin'), parse('', 'select generate_series(1, 3)'), bind('', ''), sync)).toBe('C(BEGIN) Z(T) 1 2 Z(T)');
  expect(await a.session.sideQuery('select 1', side)).toEqual([['1']]);
  expect(await a.run(execute('', 2), sync)).toBe('D[1] D[2] s Z(T)');
  expect(await a.session.sideQuery('select 2', side)).toEqual([['2']]);
  expect(await a.run(execute('', 0), sync)).toBe('D[3] C(SELECT 1) Z(T)');
  expect(await a.run(q('commit'))).toBe('C(COMMIT) Z(I)');
});

test('inside a pipeline before its Sync: it runs in the batch\'s implicit transaction and adds no ReadyForQuery', async () => {
  const a = await openSession(engine());
  const before = Number((await a.session.sideQuery(PENDING_INSERTS, side))![0]![0]);
  expect(await a.run(parse('ins', 'insert into side_t values ($1)'), bind('', 'ins', ['1']), execute())).toBe('1 2 C(INSERT 0 1)');
  // The insert is visible to the side query: same transaction.
  expect(await a.session.sideQuery(PENDING_INSERTS, side)).toEqual([[String(before + 1)]]);
  expect(await a.run(bind('', 'ins', ['2']), execute(), sync)).toBe('2 C(INSERT 0 1) Z(I)');
  expect(await a.run(q('select count(*) from side_t where k in (1, 2)'))).toBe('T D[2] C(SELECT 1) Z(I)');
  expect(await a.run(q('delete from side_t'))).toMatch(/^C\(DELETE \d+\) Z\(I\)$/);
});

test('where the query would fail or be skipped, it does not run', async () => {
  const a = await openSession(engine());
  expect(await a.run(q('begin'), q('select 1/0'))).toBe('C(BEGIN) Z(T) E(22012) Z(E)');
  expect(await a.session.sideQuery('select 1', side)).toBeUndefined();
  expect(await a.run(q('rollback'))).toBe('C(ROLLBACK) Z(I)');
  expect(await a.run(parse('', 'select 1/0'), bind('', ''), execute(), flush)).toBe('1 E(22012)');
  expect(await a.session.sideQuery('select 1', side)).toBeUndefined();
  expect(await a.run(sync)).toBe('Z(I)');
  expect(await a.session.sideQuery('select 1', side)).toEqual([['1']]);
});

test('a ROLLBACK in the same pipeline as a failed block ends the failure for the side query', async () => {
  const a = await openSession(engine());
  expect(await a.run(q('begin'), q('select 1/0'))).toBe('C(BEGIN) Z(T) E(22012) Z(E)');
  expect(await a.run(parse('', 'rollback'), bind('', ''), execute())).toBe('1 2 C(ROLLBACK)');
  expect(await a.session.sideQuery('select 3', side)).toEqual([['3']]);
  expect(await a.run(sync)).toBe('Z(I)');
});

test('keepBackend holds the backend past the end of the transaction until a side query without it', async () => {
  const a = await openSession(engine());
  const b = await openSession(engine());
  expect(await a.session.sideQuery('select 1', { keepBackend: true })).toEqual([['1']]);
  expect(await a.run(q('select 2'))).toBe('T D[2] C(SELECT 1) Z(I)');
  const bRun = b.run(q('select 3'));
  expect(await isPending(bRun)).toBe(true);
  expect(await a.session.sideQuery('select 4', side)).toEqual([['4']]);
  expect(await bRun).toBe('T D[3] C(SELECT 1) Z(I)');
});

test('a session closed while it keeps the backend lets the others run', async () => {
  const a = await openSession(engine());
  const b = await openSession(engine());
  await a.session.sideQuery('select 1', { keepBackend: true });
  const bRun = b.run(q('select 5'));
  expect(await isPending(bRun)).toBe(true);
  await a.session.close();
  expect(await bRun).toBe('T D[5] C(SELECT 1) Z(I)');
});

test("a side query that fails inside a block is told to the client with its next statement's answer", async () => {
  const a = await openSession(engine());
  expect(await a.run(q('begin'), q("set local statement_timeout = '20ms'"))).toBe('C(BEGIN) Z(T) C(SET) Z(T)');
  expect(await a.session.sideQuery('select pg_sleep(0.5)', side)).toBeUndefined();
  // PostgreSQL would have answered the statement with the block's failure: here the cause comes first.
  expect(await a.run(q('select 1'))).toBe('E(57014) E(25P02) Z(E)');
  expect(await a.run(q('rollback'))).toBe('C(ROLLBACK) Z(I)');
});

test('a side query that fails at a Sync point outside a block changes nothing the client sees', async () => {
  const a = await openSession(engine(), { statement_timeout: '20ms' });
  expect(await a.session.sideQuery('select pg_sleep(0.5)', side)).toBeUndefined();
  expect(await a.run(parse('', 'select 6'), describe('S', ''), bind('', ''), execute(), sync)).toBe('1 t T 2 D[6] C(SELECT 1) Z(I)');
});
