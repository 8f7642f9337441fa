/**
 * EngineSession.malformed on the PGlite engine: the client's well-framed but undecodable message
 * goes to PostgreSQL as it came, and PostgreSQL answers it as it would any client.
 */
import { Buffer } from 'node:buffer';
import { expect, test } from 'vitest';
import type { BackendMessage, FrontendMessage } from '../../../generated/index.js';
import { bind, engineForFile, errorMessage, execute, isPending, openSession, parse, q, show, sync, type TestSession } from './helpers.js';

const engine = engineForFile();

const TYPE_BYTES: Partial<Record<FrontendMessage['type'], string>> = { Query: 'Q', Bind: 'B', Sync: 'S' };

/** A frame of `type` around `body` (the runtime's decode error is not what these tests are about). */
function frame(type: 'Query' | 'Bind' | 'Sync', body: Buffer): Uint8Array {
  const head = Buffer.alloc(5);
  head.write(TYPE_BYTES[type]!, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

async function malformed(s: TestSession, type: 'Query' | 'Bind' | 'Sync', body: Buffer): Promise<BackendMessage[]> {
  const out: BackendMessage[] = [];
  await s.session.malformed({ type, frame: frame(type, body), error: { code: '08P01', message: 'not looked at' } }, { send: (m) => out.push(m as BackendMessage) });
  return out;
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
const int16 = (n: number): Buffer => Buffer.from([n >> 8, n & 255]);
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
/** A Bind of `statement` with one text parameter whose length says 5 bytes but only 2 follow. */
const shortBind = (statement: string): Buffer => Buffer.concat([cstr(''), cstr(statement), int16(0), int16(1), int32(5), Buffer.from('ab')]);

test('a Query without its terminating zero: ERROR 08P01, then ReadyForQuery', async () => {
  const a = await openSession(engine());
  const out = await malformed(a, 'Query', Buffer.from('select 1'));
  expect(show(out)).toBe('E(08P01) Z(I)');
  expect(errorMessage(out)).toBe('invalid string in message');
  expect(await a.run(q('select 1'))).toBe('T D[1] C(SELECT 1) Z(I)');
});

test('a Query that is not UTF-8: ERROR 22021', async () => {
  const a = await openSession(engine());
  expect(show(await malformed(a, 'Query', Buffer.from([0x73, 0xff, 0xfe, 0])))).toBe('E(22021) Z(I)');
});

test('inside a transaction block, the block fails', async () => {
  const a = await openSession(engine());
  expect(await a.run(q('begin'))).toBe('C(BEGIN) Z(T)');
  expect(show(await malformed(a, 'Query', Buffer.from('select 1')))).toBe('E(08P01) Z(E)');
  expect(await a.run(q('select 1'))).toBe('E(25P02) Z(E)');
  expect(await a.run(q('rollback'))).toBe('C(ROLLBACK) Z(I)');
});

test("a Bind with a bad body in a pipeline: ERROR 08P01 for the client's own statement, then skip to Sync", async () => {
  const a = await openSession(engine());
  expect(await a.run(parse('s1', 'select $1::int'))).toBe('1');
  // PostgreSQL finds the statement by the client's name before it reads the parameters.
  const out = await malformed(a, 'Bind', shortBind('s1'));
  expect(show(out)).toBe('E(08P01)');
  expect(errorMessage(out)).toBe('insufficient data left in message');
  expect(await a.run(bind('', 's1', ['1']), execute())).toBe('');
  expect(await a.run(sync)).toBe('Z(I)');
  expect(await a.run(bind('', 's1', ['3']), execute(), sync)).toBe('2 D[3] C(SELECT 1) Z(I)');
});

test("a Bind with a bad body for the unnamed statement, and one whose statement name has no end", async () => {
  const a = await openSession(engine());
  expect(await a.run(parse('', 'select $1::int'), sync)).toBe('1 Z(I)');
  expect(show(await malformed(a, 'Bind', shortBind('')))).toBe('E(08P01)');
  expect(await a.run(sync)).toBe('Z(I)');
  const out = await malformed(a, 'Bind', Buffer.concat([cstr(''), Buffer.from('s1')]));
  expect(errorMessage(out)).toBe('invalid string in message');
  expect(await a.run(sync)).toBe('Z(I)');
});

test('a Sync with a body: ERROR 08P01, and the Sync still ends the batch', async () => {
  const a = await openSession(engine());
  expect(await a.run(parse('', 'select 1'), bind('', ''), execute())).toBe('1 2 D[1] C(SELECT 1)');
  expect(show(await malformed(a, 'Sync', Buffer.from([1])))).toBe('E(08P01) Z(I)');
  expect(await a.run(q('select 2'))).toBe('T D[2] C(SELECT 1) Z(I)');
});

test('a session whose malformed message failed its block keeps the backend until the block ends', async () => {
  const a = await openSession(engine());
  const b = await openSession(engine());
  expect(await a.run(q('begin'))).toBe('C(BEGIN) Z(T)');
  expect(show(await malformed(a, 'Query', Buffer.from('x')))).toBe('E(08P01) Z(E)');
  const bRun = b.run(q('select 9'));
  expect(await isPending(bRun)).toBe(true);
  expect(await a.run(q('rollback'))).toBe('C(ROLLBACK) Z(I)');
  expect(await bRun).toBe('T D[9] C(SELECT 1) Z(I)');
});

test('a malformed message is the first of a session: it takes the backend as any message does', async () => {
  const a = await openSession(engine());
  const b = await openSession(engine());
  expect(await b.run(q('begin'))).toBe('C(BEGIN) Z(T)');
  const aRun = malformed(a, 'Query', Buffer.from('y'));
  expect(await isPending(aRun)).toBe(true);
  expect(await b.run(q('commit'))).toBe('C(COMMIT) Z(I)');
  expect(show(await aRun)).toBe('E(08P01) Z(I)');
});
