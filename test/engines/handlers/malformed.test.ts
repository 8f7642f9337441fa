/**
 * A message whose framing is sound but whose body is not (text that is not UTF-8, a string
 * without its zero byte, a body too short or too long) is answered by the handler engine's
 * `malformed` as PostgreSQL answers it: an ERROR, the block failed, ReadyForQuery after a Query,
 * FunctionCall or Sync, the skip to Sync after an extended-query message. Checked at the session
 * level against a real PostgreSQL 15 given the same bytes: each frame our decoder refuses goes to
 * `malformed` with the decoder's error, every other frame to `execute`. The trivial engine (a
 * test double with no SQL of its own) is held to the same for what it can run.
 */
import { Buffer } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRONTEND_TABLE, PROTOCOL_3_0, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import type { BackendSink, Engine, EngineSession, MalformedMessage } from '../../../runtime/engine.js';
import { TrivialEngine } from '../../../runtime/engines/trivial/trivial-engine.js';
import { readErrorFields } from '../../../runtime/protocol/error-fields.js';
import { decodeOne, ProtocolDecodeError, ValueList } from '../../../runtime/wire/index.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import { encode, RawClient, type Received } from '../../runtime/support/raw-client.js';
import { FAILING, fixtureEngine } from './fixtures.js';

let pg: PostgresServer;

beforeAll(async () => {
  pg = await startPostgres({ initSql: 'CREATE TABLE items (id int, name text, at timestamp);' });
}, 60_000);

afterAll(async () => {
  await pg?.stop();
});

// ---- frames, good and bad -----------------------------------------------------------------------

const frame = (type: string, ...body: Uint8Array[]): Buffer => {
  const b = Buffer.concat(body);
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
};
const z = (bytes: Uint8Array | string): Buffer => Buffer.concat([Buffer.from(bytes as Uint8Array), Buffer.from([0])]);
const series = (n: number): string => `select n from generate_series(1, ${n}) n`;

const good = (...messages: FrontendMessage[]): Buffer => Buffer.from(encode(...messages));
const query = (sql: string): Buffer => good({ type: 'Query', query: sql });
const parse = (sql: string): Buffer => good({ type: 'Parse', statement: '', query: sql, parameterTypes: [] });
const bind = good({ type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] });
const execute = good({ type: 'Execute', portal: '', maxRows: 0 });
const sync = good({ type: 'Sync' });

/** A query `select '<bytes>'`: text PostgreSQL refuses with 22021 when the bytes are not UTF-8. */
const badText = (bytes: number[]): Buffer => frame('Q', z(Buffer.concat([Buffer.from("select '"), Buffer.from(bytes), Buffer.from("'")])));
const SURROGATE = [0xed, 0xa0, 0x80];
const unterminatedQuery = frame('Q', Buffer.from('select 1'));
/** Bind naming a portal that is not UTF-8. */
const badBind = frame('B', z(Buffer.from([0xe2, 0x28])), z(''), Buffer.alloc(6));
const syncWithBody = frame('S', Buffer.from([1, 2]));
const flushWithBody = frame('H', Buffer.from([1, 2]));
const shortFunctionCall = frame('F', Buffer.from([0, 0, 0]));
const copyDoneWithBody = frame('c', Buffer.from([1]));
const unterminatedCopyFail = frame('f', Buffer.from('stop'));

// ---- the two sides of a conversation ------------------------------------------------------------

/** What both servers must agree on: message types, SQLSTATEs, tags, statuses, row values. */
function summary(messages: readonly Received[]): string[] {
  return messages.map((m) => {
    if (m.type === 'ErrorResponse') return `E ${readErrorFields(m).code}`;
    if (m.type === 'ReadyForQuery') return `Z ${m.status}`;
    if (m.type === 'CommandComplete') return `C ${m.tag}`;
    if (m.type === 'DataRow') return `D ${m.values.texts().join(',')}`;
    return m.type;
  });
}

/** One step: frames sent together, and the messages that end PostgreSQL's answer to them, in order. */
interface Step {
  readonly frames: readonly Buffer[];
  readonly ends: readonly BackendMessage['type'][];
}

async function postgresAnswers(steps: readonly Step[]): Promise<Received[][]> {
  const c = await RawClient.connect(pg.port);
  try {
    await c.login('postgres', { parameters: [{ name: 'database', value: 'postgres' }] });
    const out: Received[][] = [];
    for (const step of steps) {
      c.write(Buffer.concat(step.frames));
      const got: Received[] = [];
      for (const end of step.ends) got.push(...(await c.until(end)));
      out.push(got);
    }
    return out;
  } finally {
    c.close();
  }
}

/** The frame as the runtime hands it over: decoded (validating text, as for a UTF8 client), or malformed with the decoder's error. */
function received(bytes: Buffer): { message: FrontendMessage } | { malformed: MalformedMessage } {
  try {
    return { message: decodeOne(FRONTEND_TABLE, bytes, { context: { protocolVersion: PROTOCOL_3_0, validateUtf8: true } }) };
  } catch (err) {
    if (!(err instanceof ProtocolDecodeError) || err.frame === undefined) throw err;
    const type = FRONTEND_TABLE.typed[bytes[0]!]!.name as FrontendMessage['type'];
    // The decoder's text, without the message name it puts first.
    return { malformed: { type, frame: err.frame, error: { code: err.sqlstate, message: err.message.slice(err.messageName.length + 2) } } };
  }
}

function recordingSink(): BackendSink & { readonly sent: BackendMessage[] } {
  const sent: BackendMessage[] = [];
  return { sent, send: (m) => void sent.push(m as BackendMessage) };
}

async function openSession(engine: Engine): Promise<EngineSession> {
  return engine.openSession(
    { user: 'postgres', database: 'postgres', parameters: {}, protocolVersion: PROTOCOL_3_0, processId: 1 },
    {
      asyncMessage: () => undefined,
      fatal: (e) => {
        throw e;
      },
    },
  );
}

async function engineAnswers(engine: Engine, steps: readonly Step[]): Promise<Received[][]> {
  const session = await openSession(engine);
  try {
    const out: Received[][] = [];
    for (const step of steps) {
      const sink = recordingSink();
      for (const bytes of step.frames) {
        const r = received(bytes);
        if ('message' in r) await session.execute([r.message], sink);
        else await session.malformed!(r.malformed, sink);
      }
      out.push(sink.sent);
    }
    return out;
  } finally {
    await session.close();
  }
}

/** A step answered with `ready` ReadyForQuery. */
const step = (ready: number, ...frames: Buffer[]): Step => ({ frames, ends: Array<BackendMessage['type']>(ready).fill('ReadyForQuery') });

const CONVERSATIONS: Record<string, Step[]> = {
  'a Query that is not UTF-8, then the session goes on': [step(1, badText(SURROGATE)), step(1, query(series(1)))],
  'a Query that is not UTF-8 fails the open block until ROLLBACK': [
    step(1, query('BEGIN')),
    step(1, badText([0x80])),
    step(1, query(series(1))),
    step(1, query('ROLLBACK')),
    step(1, query(series(1))),
  ],
  'a Query without its zero byte': [step(1, unterminatedQuery), step(1, query(series(2)))],
  'a Bind that is not UTF-8 mid-batch skips to Sync; the next batch runs': [
    step(1, parse(series(1)), badBind, execute, sync),
    step(1, parse(series(2)), bind, execute, sync),
  ],
  'a bad extended-query message inside a block fails it': [step(1, query('BEGIN')), step(1, parse(series(1)), badBind, execute, sync), step(1, query('COMMIT'))],
  'a Sync with a body still ends the batch with ReadyForQuery': [step(1, parse(series(1)), bind, execute, syncWithBody), step(1, query(series(1)))],
  'a Sync with a body ends a skip, then reports its own error': [step(1, parse(FAILING), bind, execute, syncWithBody)],
  'a Flush with a body starts the skip to Sync': [step(1, parse(series(1)), flushWithBody, bind, execute, sync)],
  'a FunctionCall cut short': [step(1, shortFunctionCall), step(1, query(series(1)))],
  'a bad Query while skipping to Sync is not even read': [step(1, parse(FAILING), bind, execute, unterminatedQuery, badText([0xff]), sync)],
  'a bad CopyDone outside COPY is dropped unread': [step(1, copyDoneWithBody, query(series(1)))],
  'a bad CopyFail during COPY FROM STDIN fails the COPY': [
    { frames: [query('COPY items FROM STDIN')], ends: ['CopyInResponse'] },
    step(0, frame('d', Buffer.from('1\tx\t2024-01-01\n'))),
    step(1, unterminatedCopyFail),
    step(1, query(series(1))),
  ],
};

describe('the handler engine answers malformed messages like PostgreSQL 15', () => {
  for (const [title, steps] of Object.entries(CONVERSATIONS)) {
    it(title, async () => {
      const [ours, theirs] = await Promise.all([engineAnswers(fixtureEngine(), steps), postgresAnswers(steps)]);
      expect(ours.map(summary)).toEqual(theirs.map(summary));
    });
  }

  it('in the same words when the text is not UTF-8', async () => {
    const steps = [[0x61, 0x80], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x9f, 0x98, 0x78], SURROGATE, [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf]].map((bytes) => step(1, badText(bytes)));
    const [ours, theirs] = await Promise.all([engineAnswers(fixtureEngine(), steps), postgresAnswers(steps)]);
    const errors = (answers: Received[][]): string[] =>
      answers.map((a) => {
        const e = readErrorFields(a.find((m): m is Extract<BackendMessage, { type: 'ErrorResponse' }> => m.type === 'ErrorResponse')!);
        return `${e.severity} ${e.code} ${e.message}`;
      });
    expect(errors(ours)).toEqual(errors(theirs));
    expect(errors(ours)[0]).toBe('ERROR 22021 invalid byte sequence for encoding "UTF8": 0x80');
  });
});

/** What the trivial engine runs (SELECT n, transaction commands, the extended protocol), as PostgreSQL does. */
const TRIVIAL_CONVERSATIONS: Record<string, Step[]> = {
  'a Query that is not UTF-8, then the session goes on': [step(1, badText(SURROGATE)), step(1, query('select 1'))],
  'a Query that is not UTF-8 fails the open block': [step(1, query('BEGIN')), step(1, badText([0x80])), step(1, query('ROLLBACK'))],
  'a Bind that is not UTF-8 mid-batch skips to Sync; the next batch runs': [
    step(1, parse('select 1'), badBind, execute, sync),
    step(1, parse('select 2'), bind, execute, sync),
  ],
  'a bad extended-query message inside a block fails it': [step(1, query('BEGIN')), step(1, parse('select 1'), badBind, execute, sync), step(1, query('ROLLBACK'))],
  'a Sync with a body still ends the batch with ReadyForQuery': [step(1, parse('select 1'), bind, execute, syncWithBody)],
  'a Flush with a body starts the skip to Sync': [step(1, parse('select 1'), flushWithBody, bind, execute, sync)],
  'a FunctionCall cut short': [step(1, shortFunctionCall), step(1, query('select 1'))],
  'a bad Query while skipping to Sync is not even read': [step(1, good({ type: 'Execute', portal: 'none', maxRows: 0 }), unterminatedQuery, sync)],
  'a bad CopyDone outside COPY is dropped unread': [step(1, copyDoneWithBody, query('select 1'))],
};

describe('the trivial engine answers malformed messages like PostgreSQL 15', () => {
  for (const [title, steps] of Object.entries(TRIVIAL_CONVERSATIONS)) {
    it(title, async () => {
      const [ours, theirs] = await Promise.all([engineAnswers(new TrivialEngine(), steps), postgresAnswers(steps)]);
      expect(ours.map(summary)).toEqual(theirs.map(summary));
    });
  }
});
