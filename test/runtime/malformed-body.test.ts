/**
 * Well-framed messages with a bad body after login, and other input PostgreSQL answers without
 * closing at once. With an engine that has `malformed`, the runtime hands it the message (its
 * frame and PostgreSQL's wording) and carries on, skipping to Sync after an extended-query
 * message; without it, the session ends with FATAL as before. Terminate discards unsent pipeline
 * output; a message that interrupts COPY fails the COPY in the engine, then ends the session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValueList } from '../../runtime/wire/index.js';
import { CLOSED, RawClient, encode, errorOf, shape, startup } from './support/raw-client.js';
import { ScriptedEngine } from './support/scripted-engine.js';
import { startServer, type RunningServer } from './support/servers.js';

/** A frame from its type byte and body bytes (hex), with the length computed. */
function frame(type: string, bodyHex: string): Buffer {
  const body = Buffer.from(bodyHex.replace(/\s+/g, ''), 'hex');
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const QUERY_WITHOUT_ZERO = frame('Q', Buffer.from('sele').toString('hex'));
const SYNC_WITH_BODY = frame('S', '00');
const EXECUTE_WITH_TRAILING_BYTES = frame('E', '00 00000000 ffff');
const QUERY_WITH_BAD_UTF8 = frame('Q', `${Buffer.from("select '").toString('hex')} ff ${Buffer.from("'").toString('hex')} 00`);

async function session(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.login('alice');
  return c;
}

describe('with an engine that answers malformed messages', () => {
  let engine: ScriptedEngine;
  let s: RunningServer;
  beforeAll(async () => {
    engine = new ScriptedEngine({ malformed: true });
    s = await startServer({ engine, users: ['alice:trust', 'carl:password:pw'] });
  });
  afterAll(() => s.close());

  it('answers a Query without its zero with ERROR 08P01, ReadyForQuery, and goes on', async () => {
    const c = await session(s.port);
    try {
      const seen = engine.malformedSeen.length;
      c.write(QUERY_WITHOUT_ZERO);
      const got = await c.until('ReadyForQuery');
      expect(shape(got)).toEqual(['ErrorResponse', 'ReadyForQuery']);
      expect(errorOf(got)).toMatchObject({ severity: 'ERROR', code: '08P01', message: 'invalid string in message' });
      const asked = engine.malformedSeen[seen]!;
      expect({ type: asked.type, frame: Buffer.from(asked.frame) }).toEqual({ type: 'Query', frame: QUERY_WITHOUT_ZERO });
      c.send({ type: 'Query', query: 'select 4' });
      expect(shape(await c.until('ReadyForQuery'))).toEqual(['RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
    } finally {
      c.close();
    }
  });

  it('answers a Sync with a body with ERROR and ReadyForQuery', async () => {
    const c = await session(s.port);
    try {
      c.write(SYNC_WITH_BODY);
      const got = await c.until('ReadyForQuery');
      expect(shape(got)).toEqual(['ErrorResponse', 'ReadyForQuery']);
      expect(errorOf(got)).toMatchObject({ severity: 'ERROR', code: '08P01', message: 'invalid message format' });
    } finally {
      c.close();
    }
  });

  it('after a bad extended-query message, skips everything up to Sync', async () => {
    const c = await session(s.port);
    try {
      const seen = engine.malformedSeen.length;
      // The messages before the bad Execute run; the Bind and Execute after it are skipped; the Sync ends the skipping.
      c.write(
        Buffer.concat([
          encode({ type: 'Parse', statement: '', query: 'select 1', parameterTypes: [] }),
          encode({ type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] }),
          EXECUTE_WITH_TRAILING_BYTES,
          encode({ type: 'Bind', portal: '', statement: 'missing', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] }),
          encode({ type: 'Execute', portal: '', maxRows: 0 }),
          encode({ type: 'Sync' }),
        ]),
      );
      const got = await c.until('ReadyForQuery');
      expect(shape(got)).toEqual(['ParseComplete', 'BindComplete', 'ErrorResponse', 'ReadyForQuery']);
      expect(errorOf(got)).toMatchObject({ severity: 'ERROR', code: '08P01', message: 'invalid message format' });
      expect(engine.malformedSeen.slice(seen).map((m) => m.type)).toEqual(['Execute']);
    } finally {
      c.close();
    }
  });

  it('does not ask the engine about a bad message that arrives while skipping to Sync', async () => {
    const c = await session(s.port);
    try {
      const seen = engine.malformedSeen.length;
      c.write(Buffer.concat([encode({ type: 'Execute', portal: 'missing', maxRows: 0 }), EXECUTE_WITH_TRAILING_BYTES, encode({ type: 'Sync' })]));
      const got = await c.until('ReadyForQuery');
      expect(shape(got)).toEqual(['ErrorResponse', 'ReadyForQuery']);
      expect(errorOf(got)).toMatchObject({ code: '34000' });
      expect(engine.malformedSeen.length).toBe(seen);
    } finally {
      c.close();
    }
  });

  it('checks UTF-8 once the session reports client_encoding UTF8 (22021, in PostgreSQL words)', async () => {
    const c = await session(s.port);
    try {
      c.write(QUERY_WITH_BAD_UTF8);
      const got = await c.until('ReadyForQuery');
      expect(shape(got)).toEqual(['ErrorResponse', 'ReadyForQuery']);
      expect(errorOf(got)).toMatchObject({ severity: 'ERROR', code: '22021', message: 'invalid byte sequence for encoding "UTF8": 0xff' });
    } finally {
      c.close();
    }
  });

  it('keeps a bad body FATAL before login, as PostgreSQL does', async () => {
    const c = await RawClient.connect(s.port);
    try {
      const seen = engine.malformedSeen.length;
      c.send(startup('carl'));
      await c.until('AuthenticationCleartextPassword');
      c.write(frame('p', Buffer.from('pw').toString('hex')));
      const got = await c.drainToClose();
      expect(shape(got)).toEqual(['ErrorResponse', 'Closed']);
      expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '08P01' });
      expect(engine.malformedSeen.length).toBe(seen);
    } finally {
      c.close();
    }
  });

  it('sends none of an unfinished pipeline’s answers when the client terminates before Sync', async () => {
    const c = await session(s.port);
    try {
      c.send(
        { type: 'Parse', statement: '', query: 'select 1', parameterTypes: [] },
        { type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] },
        { type: 'Execute', portal: '', maxRows: 0 },
        { type: 'Terminate' },
      );
      expect(await c.drainToClose()).toEqual([CLOSED]);
    } finally {
      c.close();
    }
  });

  it('fails a COPY that another message interrupts in the engine, then ends the session', async () => {
    const c = await session(s.port);
    try {
      c.send({ type: 'Query', query: 'copy in' });
      await c.until('CopyInResponse');
      c.send({ type: 'CopyData', data: Buffer.from('1\n') }, { type: 'Terminate' });
      const got = await c.drainToClose();
      expect(shape(got)).toEqual(['ErrorResponse', 'ErrorResponse', 'Closed']);
      // The engine's error, with what only it knows; then the spec's FATAL.
      expect(errorOf(got)).toMatchObject({ severity: 'ERROR', code: '57014', message: 'COPY from stdin failed: unexpected message type 0x58 during COPY from stdin', where: 'COPY t, line 2' });
      expect(errorOf(got.slice(1))).toMatchObject({ severity: 'FATAL', code: '08P01', message: 'terminating connection because protocol synchronization was lost' });
    } finally {
      c.close();
    }
  });
});

describe('with an engine that does not answer malformed messages', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer({ engine: new ScriptedEngine(), users: ['alice:trust'] });
  });
  afterAll(() => s.close());

  it('ends the session with FATAL 08P01, as before', async () => {
    const c = await session(s.port);
    try {
      c.write(QUERY_WITHOUT_ZERO);
      const got = await c.drainToClose();
      expect(shape(got)).toEqual(['ErrorResponse', 'Closed']);
      expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '08P01', message: 'Query: query has no terminating zero byte' });
    } finally {
      c.close();
    }
  });
});

describe('with a session whose client_encoding is not UTF8', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer({ engine: new ScriptedEngine({ malformed: true, clientEncoding: 'SQL_ASCII' }), users: ['alice:trust'] });
  });
  afterAll(() => s.close());

  it('does not check UTF-8: the query reaches the engine', async () => {
    const c = await session(s.port);
    try {
      c.write(QUERY_WITH_BAD_UTF8);
      const got = await c.until('ReadyForQuery');
      expect(shape(got)).toEqual(['CommandComplete', 'ReadyForQuery']);
    } finally {
      c.close();
    }
  });
});
