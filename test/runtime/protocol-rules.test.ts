/**
 * Protocol rules the runtime enforces over the trivial engine: pipelining (one ReadyForQuery per
 * Sync), skip-until-Sync after an error, row limits, fatal violations, Terminate, stray COPY
 * messages, output batching and back-pressure from a client that never reads. Raw conversations
 * are also run against PostgreSQL 15 and the answers compared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Socket } from 'node:net';
import type { FrontendMessage } from '../../generated/index.js';
import { ValueList } from '../../runtime/wire/index.js';
import { describeWithClient } from '../support/clients.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { CLOSED, RawClient, encode, errorOf, shape, types, type Received } from './support/raw-client.js';
import { startServer, waitFor, type RunningServer } from './support/servers.js';

let ours: RunningServer;
let real: PostgresServer;

beforeAll(async () => {
  [ours, real] = await Promise.all([startServer({ users: ['*:trust'] }), startPostgres({ users: [{ name: 'bob', auth: 'trust' }] })]);
});

afterAll(async () => {
  await Promise.all([ours?.close(), real?.stop()]);
});

async function loggedIn(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  const got = await c.login('bob', { parameters: [{ name: 'database', value: 'postgres' }] });
  expect(got.at(-1)!.type).toBe('ReadyForQuery');
  return c;
}

/** Runs the same conversation against pgspec and PostgreSQL 15. */
async function both<T>(conversation: (c: RawClient) => Promise<T>): Promise<[T, T]> {
  const a = await loggedIn(ours.port);
  const b = await loggedIn(real.port);
  try {
    return [await conversation(a), await conversation(b)];
  } finally {
    a.close();
    b.close();
  }
}

/** Reads until `n` ReadyForQuery have arrived (or the connection closed). */
async function readyForQueries(c: RawClient, n: number): Promise<Received[]> {
  const out: Received[] = [];
  for (let i = 0; i < n; i++) {
    const part = await c.until('ReadyForQuery');
    out.push(...part);
    if (part.at(-1) === CLOSED) break;
  }
  return out;
}

const extended = (query: string, statement = '', maxRows = 0): FrontendMessage[] => [
  { type: 'Parse', statement, query, parameterTypes: [] },
  { type: 'Bind', portal: '', statement, parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] },
  { type: 'Describe', target: 'P', name: '' },
  { type: 'Execute', portal: '', maxRows },
];
const SYNC: FrontendMessage = { type: 'Sync' };

describe('pipelining and errors (raw, compared with PostgreSQL 15)', () => {
  it('answers several Syncs in flight with exactly one ReadyForQuery each, in order', async () => {
    const [mine, theirs] = await both(async (c) => {
      c.send(...extended('select 1'), SYNC, { type: 'Query', query: 'select 2' }, ...extended('select 3', 's3'), SYNC, ...extended('select 4'), SYNC);
      const got = await readyForQueries(c, 4);
      // Nothing more may come: no stray ReadyForQuery.
      c.send({ type: 'Query', query: 'select 5' });
      const after = await c.until('ReadyForQuery');
      const rows = got.filter((m) => m.type === 'DataRow').map((m) => (m.type === 'DataRow' ? Buffer.from(m.values.get(0)!).toString() : ''));
      return { shape: shape(got), rows, after: shape(after) };
    });
    expect(mine.rows).toEqual(['1', '2', '3', '4']);
    expect(mine.shape.filter((t) => t === 'ReadyForQuery')).toHaveLength(4);
    expect(mine).toEqual(theirs);
  });

  it('after an error mid-pipeline, discards up to Sync and sends one ReadyForQuery', async () => {
    const [mine, theirs] = await both(async (c) => {
      c.send(
        ...extended('select 1'),
        SYNC,
        { type: 'Bind', portal: '', statement: 'missing', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] },
        ...extended('select 2'),
        { type: 'Query', query: 'select 99' },
        SYNC,
        ...extended('select 3'),
        SYNC,
      );
      const got = await readyForQueries(c, 3);
      const e = errorOf(got);
      return { shape: shape(got), code: e.code, severity: e.severity, message: e.message };
    });
    expect(mine).toEqual({
      shape: ['ParseComplete', 'BindComplete', 'RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery', 'ErrorResponse', 'ReadyForQuery', 'ParseComplete', 'BindComplete', 'RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery'],
      code: '26000',
      severity: 'ERROR',
      message: 'prepared statement "missing" does not exist',
    });
    expect(mine).toEqual(theirs);
  });

  it('suspends a portal at its row limit (PortalSuspended)', async () => {
    const [mine, theirs] = await both(async (c) => {
      c.send(...extended('select 1', '', 1), SYNC);
      return shape(await c.until('ReadyForQuery'));
    });
    expect(mine).toEqual(['ParseComplete', 'BindComplete', 'RowDescription', 'DataRow', 'PortalSuspended', 'ReadyForQuery']);
    expect(mine).toEqual(theirs);
  });

  it('ignores CopyData, CopyDone and CopyFail outside COPY', async () => {
    const [mine, theirs] = await both(async (c) => {
      c.send({ type: 'CopyData', data: Buffer.from('1\n') }, { type: 'CopyDone' }, { type: 'CopyFail', message: 'stray' }, { type: 'Query', query: 'select 6' });
      const a = shape(await c.until('ReadyForQuery'));
      // postgres.js sends its stray CopyFail on its own, between two queries.
      c.send({ type: 'CopyFail', message: 'stray again' });
      c.send(...extended('select 7'), SYNC);
      return [a, shape(await c.until('ReadyForQuery'))];
    });
    expect(mine[0]).toEqual(['RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
    expect(mine).toEqual(theirs);
  });

  it('closes on Terminate without answering', async () => {
    const [mine, theirs] = await both(async (c) => {
      c.send({ type: 'Terminate' });
      return types(await c.drainToClose());
    });
    expect(mine).toEqual(['Closed']);
    expect(mine).toEqual(theirs);
    await waitFor(() => ours.server.connectionCount === 0, 3000, 'the terminated session to go');
  });

  it('answers an unknown message type with FATAL 08P01 and closes, then serves another connection', async () => {
    const [mine, theirs] = await both(async (c) => {
      c.write(Buffer.from([0x7a, 0, 0, 0, 4]));
      const got = await c.drainToClose();
      const e = errorOf(got);
      return { types: types(got), severity: e.severity, code: e.code, message: e.message };
    });
    expect(mine).toEqual({ types: ['ErrorResponse', 'Closed'], severity: 'FATAL', code: '08P01', message: 'invalid frontend message type 122' });
    expect(mine).toEqual(theirs);
    const next = await loggedIn(ours.port);
    next.send({ type: 'Query', query: 'select 8' });
    expect(shape(await next.until('ReadyForQuery'))).toEqual(['RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
    next.close();
  });

  it("answers a 'p' message after login with FATAL 08P01 and closes", async () => {
    const [mine, theirs] = await both(async (c) => {
      c.send({ type: 'PasswordMessage', password: 'late' });
      const got = await c.drainToClose();
      const e = errorOf(got);
      return { types: types(got), severity: e.severity, code: e.code, message: e.message };
    });
    expect(mine).toEqual({ types: ['ErrorResponse', 'Closed'], severity: 'FATAL', code: '08P01', message: 'invalid frontend message type 112' });
    expect(mine).toEqual(theirs);
  });
});

describe('output batching and back-pressure', () => {
  it('answers a 3-Sync pipeline in far fewer writes than messages', async () => {
    const c = await loggedIn(ours.port);
    await new Promise((r) => setTimeout(r, 50));
    const chunksBefore = c.chunks;
    c.send(...extended('select 1'), SYNC, ...extended('select 2'), SYNC, ...extended('select 3'), SYNC);
    const got = await readyForQueries(c, 3);
    expect(got).toHaveLength(18);
    // One write per Sync at most; TCP may merge them further.
    expect(c.chunks - chunksBefore).toBeLessThanOrEqual(3);
    c.close();
  });

  it('stops reading from a client that never reads its results; buffered output stays bounded', async () => {
    const c = await loggedIn(ours.port);
    c.socket.pause(); // never read again
    const conn = [...(ours.server as unknown as { connections: Set<{ socket: Socket; decoder: { buffered: number } }> }).connections].at(-1)!;
    const one = encode({ type: 'Query', query: 'select 1' });
    const batch = Buffer.concat(Array.from({ length: 10_000 }, () => one)); // 140 kB of queries, ~600 kB of answers
    const sent = 400; // 56 MB of queries if everything were read, ~240 MB of answers
    for (let i = 0; i < sent; i++) {
      c.socket.write(batch);
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 10));
      if (c.socket.writableLength > 8 * 1024 * 1024) break; // the server stopped reading: our writes pile up here
    }
    await new Promise((r) => setTimeout(r, 500));
    const serverOut = conn.socket.writableLength;
    const serverIn = conn.decoder.buffered;
    expect({ clientPending: c.socket.writableLength > 1024 * 1024, serverOut, serverIn }).toMatchObject({ clientPending: true });
    expect(serverOut).toBeLessThan(2 * 1024 * 1024);
    expect(serverIn).toBeLessThan(4 * 1024 * 1024);
    c.close();
  });
});

describeWithClient('node-pg', 'pipelining with node-postgres', () => {
  it('runs 20 pipelined queries (simple and extended, one failing) with the right results', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: ours.port, user: 'bob', database: 'postgres', pipeline: true } as pg.ClientConfig);
    await client.connect();
    try {
      const queries = Array.from({ length: 20 }, (_, i) =>
        i === 13 ? client.query({ text: 'select 1', name: 'dup', values: [] }).then(() => client.query({ text: 'select 2', name: 'dup' })) : i % 2 ? client.query({ text: `select ${i}`, name: `q${i}` }) : client.query(`select ${i}`),
      );
      const results = await Promise.allSettled(queries);
      for (const [i, r] of results.entries()) {
        if (i === 13) continue;
        expect(r.status).toBe('fulfilled');
        if (r.status === 'fulfilled') expect(r.value.rows).toEqual([{ '?column?': i }]);
      }
      expect((await client.query('select 42')).rows).toEqual([{ '?column?': 42 }]);
    } finally {
      await client.end();
    }
  });
});
