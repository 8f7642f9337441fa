/**
 * What a client learns about its COMMIT when the proxy's upstream fails around it: a committed
 * transaction is never reported as failed without its COMMIT tag, and one that did not commit is
 * never reported with a COMMIT (or ROLLBACK) tag. The exact timings come from a scripted upstream
 * (die after CommandComplete, die before answering, answer with an error); the last test does the
 * same with a real PostgreSQL whose backend is terminated while the client is idle in a transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PROTOCOL_3_0, type BackendMessage, type ErrorResponse } from '../../../generated/index.js';
import { WireClient, type Received } from '../../conformance/wire-client.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import { ready, startFakeUpstream, type FakeReply } from './fake-upstream.js';
import { expectServing, startProxy } from './helpers.js';

/** Longest silence a read accepts: an answer that takes longer counts as a hang. */
const READ_TIMEOUT_MS = 10_000;

/** Reads until a message `stop` accepts, the connection closes, or nothing comes for READ_TIMEOUT_MS. */
async function readUntil(c: WireClient, stop: (m: BackendMessage) => boolean): Promise<Received[]> {
  const got: Received[] = [];
  for (;;) {
    const m = await c.next(READ_TIMEOUT_MS);
    got.push(m);
    if (m.type === 'Closed' || m.type === 'Timeout' || m.type === 'DecodeError' || stop(m as BackendMessage)) return got;
  }
}

async function login(port: number): Promise<WireClient> {
  const c = await WireClient.connect('127.0.0.1', port);
  c.send([{ type: 'StartupMessage', protocolVersion: PROTOCOL_3_0, parameters: [{ name: 'user', value: 'postgres' }, { name: 'database', value: 'postgres' }] }]);
  const startup = await readUntil(c, (m) => m.type === 'ReadyForQuery');
  expect(startup.at(-1)).toEqual({ type: 'ReadyForQuery', status: 'I' });
  return c;
}

/** Sends one Query and reads its answer up to ReadyForQuery (or the end of the connection). */
async function query(c: WireClient, sql: string): Promise<Received[]> {
  c.send([{ type: 'Query', query: sql }]);
  return readUntil(c, (m) => m.type === 'ReadyForQuery');
}

/** Each message's type, with the tag or SQLSTATE that tells what it reports. */
function summary(messages: readonly Received[]): string[] {
  return messages.map((m) => {
    if (m.type === 'CommandComplete') return `CommandComplete ${m.tag}`;
    if (m.type === 'ReadyForQuery') return `ReadyForQuery ${m.status}`;
    if (m.type === 'ErrorResponse') {
      const f = (code: string): string | undefined => (m as ErrorResponse).fields.find((x) => x.code === code)?.value;
      return `ErrorResponse ${f('V') ?? f('S')} ${f('C')}`;
    }
    return m.type;
  });
}

/** An upstream that runs BEGIN and INSERT normally and answers COMMIT with `commit`. */
function transactionScript(commit: (reply: FakeReply) => void): (query: string, reply: FakeReply) => void {
  return (sql, reply) => {
    if (sql === 'begin') reply.send([{ type: 'CommandComplete', tag: 'BEGIN' }, ready('T')]);
    else if (sql.startsWith('insert')) reply.send([{ type: 'CommandComplete', tag: 'INSERT 0 1' }, ready('T')]);
    else if (sql === 'commit') commit(reply);
    else reply.send([{ type: 'EmptyQueryResponse' }, ready('I')]);
  };
}

const SERIALIZATION_FAILURE: BackendMessage = {
  type: 'ErrorResponse',
  fields: [
    { code: 'S', value: 'ERROR' },
    { code: 'V', value: 'ERROR' },
    { code: 'C', value: '40001' },
    { code: 'M', value: 'could not serialize access due to read/write dependencies among transactions' },
  ],
};

describe('COMMIT when the upstream fails (scripted upstream)', () => {
  const cases: { name: string; commit: (reply: FakeReply) => void; expected: string[]; sessionGoesOn: boolean; unchanged?: BackendMessage }[] = [
    {
      name: 'dies after CommandComplete COMMIT, before ReadyForQuery: the client gets the COMMIT, then 08006',
      commit: (reply) => {
        reply.send([{ type: 'CommandComplete', tag: 'COMMIT' }]);
        reply.die();
      },
      expected: ['CommandComplete COMMIT', 'ErrorResponse FATAL 08006', 'Closed'],
      sessionGoesOn: false,
    },
    {
      name: 'dies on receiving COMMIT, before answering: 08006, and neither a COMMIT nor a ROLLBACK tag',
      commit: (reply) => reply.die(),
      expected: ['ErrorResponse FATAL 08006', 'Closed'],
      sessionGoesOn: false,
    },
    {
      name: 'answers COMMIT with an ERROR and ReadyForQuery I: passed on unchanged, the session goes on',
      commit: (reply) => reply.send([SERIALIZATION_FAILURE, ready('I')]),
      expected: ['ErrorResponse ERROR 40001', 'ReadyForQuery I'],
      sessionGoesOn: true,
      unchanged: SERIALIZATION_FAILURE,
    },
    {
      name: 'answers COMMIT of a failed transaction with ROLLBACK: passed on unchanged, the session goes on',
      commit: (reply) => reply.send([{ type: 'CommandComplete', tag: 'ROLLBACK' }, ready('I')]),
      expected: ['CommandComplete ROLLBACK', 'ReadyForQuery I'],
      sessionGoesOn: true,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const fake = await startFakeUpstream(transactionScript(c.commit));
      const proxy = await startProxy(`postgres://127.0.0.1:${fake.port}/?sslmode=disable`);
      try {
        const client = await login(proxy.port);
        expect(summary(await query(client, 'begin'))).toEqual(['CommandComplete BEGIN', 'ReadyForQuery T']);
        expect(summary(await query(client, 'insert into t values (1)'))).toEqual(['CommandComplete INSERT 0 1', 'ReadyForQuery T']);
        const answer = await query(client, 'commit');
        expect(summary(answer)).toEqual(c.expected);
        if (c.unchanged) expect(answer[0]).toEqual(c.unchanged);
        if (c.sessionGoesOn) expect(summary(await query(client, ''))).toEqual(['EmptyQueryResponse', 'ReadyForQuery I']);
        client.close();
        // The proxy serves the next client whatever happened to this one.
        const next = await login(proxy.port);
        expect(summary(await query(next, ''))).toEqual(['EmptyQueryResponse', 'ReadyForQuery I']);
        next.close();
        expect(proxy.violations).toEqual([]);
      } finally {
        await proxy.close();
        await fake.close();
      }
    });
  }
});

describe('COMMIT when the upstream backend is terminated (real PostgreSQL)', () => {
  let up: PostgresServer;

  beforeAll(async () => {
    up = await startPostgres({ initSql: 'create table commits (id int);' });
  }, 120_000);

  afterAll(async () => {
    await up?.stop();
  });

  it('idle in a transaction, then COMMIT: the client gets an error, never a COMMIT, and the row is not there', async () => {
    const proxy = await startProxy(`postgres://127.0.0.1:${up.port}/?sslmode=disable`);
    try {
      const c = new pg.Client({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres', application_name: 'doomed-tx' });
      const lost = new Promise<{ code?: string }>((resolve) => c.on('error', (e) => resolve(e as { code?: string })));
      await c.connect();
      await c.query('begin');
      await c.query('insert into commits values (1)');
      await up.admin("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'doomed-tx'");
      const commit = await c.query('commit').then(
        (r) => ({ committed: r.command }),
        (e: { code?: string }) => ({ code: e.code }),
      );
      expect(commit).not.toHaveProperty('committed');
      // The session was lost either before the COMMIT was sent (the idle client is told 57P01)
      // or while it was on its way (the upstream's FATAL, or 08006 if the socket went first).
      expect(['57P01', '08006']).toContain((await lost).code);
      expect((await up.admin('select count(*) from commits')).trim()).toBe('0');
      await expectServing(proxy.port);
    } finally {
      await proxy.close();
    }
  });
});
