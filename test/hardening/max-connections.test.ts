/**
 * maxConnections: the session beyond the limit is refused after its StartupMessage with FATAL
 * 53300, as PostgreSQL refuses one beyond max_connections; the sessions already in are unaffected,
 * a freed slot is reusable, and cancel requests still get through on a full server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSED, RawClient, errorOf, shape } from '../runtime/support/raw-client.js';
import { CountingEngine, startServer, waitFor, type RunningServer } from '../runtime/support/servers.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';

const LIMIT = 5;

describe('maxConnections', () => {
  let s: RunningServer;
  const engine = new CountingEngine();
  beforeAll(async () => {
    s = await startServer({ engine, maxConnections: LIMIT });
  });
  afterAll(() => s.close());

  it('refuses the session past the limit with 53300 and leaves the others working', async () => {
    const inside = await Promise.all(Array.from({ length: LIMIT }, () => RawClient.connect(s.port)));
    for (const c of inside) expect((await c.login('alice')).at(-1)?.type).toBe('ReadyForQuery');

    // Before its StartupMessage an extra connection is not refused: SSL negotiation still works.
    const extra = await RawClient.connect(s.port);
    expect((await extra.request({ type: 'SSLRequest' })).type).toBe('SSLRejected');
    const answer = await extra.login('bob');
    expect(shape(answer)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(answer)).toMatchObject({ severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' });

    for (const c of inside) {
      c.send({ type: 'Query', query: 'SELECT 7' });
      expect(shape(await c.until('ReadyForQuery'))).toEqual(['RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
    }

    // A freed slot can be taken again.
    inside.pop()!.send({ type: 'Terminate' });
    await waitFor(() => s.server.services.sessionSlots!.inUse === LIMIT - 1, 5000, 'the slot to be released');
    const next = await RawClient.connect(s.port);
    expect((await next.login('carol')).at(-1)?.type).toBe('ReadyForQuery');
    inside.push(next);

    // A CancelRequest is served on a full server (it takes no slot).
    const before = engine.cancels;
    const keyData = await RawClient.connect(s.port);
    keyData.send({ type: 'CancelRequest', processId: 999999, secretKey: new Uint8Array(4) });
    expect((await keyData.next()).type).toBe(CLOSED.type);
    expect(engine.cancels).toBe(before); // a wrong key cancels nothing, and is answered by a close

    for (const c of inside) c.close();
    await waitFor(() => s.server.services.sessionSlots!.inUse === 0, 5000, 'every slot to be released');
  });
});

describe('PostgreSQL 15 with max_connections reached', () => {
  let pg: PostgresServer;
  beforeAll(async () => {
    // superuser_reserved_connections must be below max_connections; 0 makes the arithmetic plain.
    pg = await startPostgres({ settings: { max_connections: 2, superuser_reserved_connections: 0 } });
  });
  afterAll(() => pg?.stop());

  it('answers the same way: FATAL 53300 after the startup packet, then a close', async () => {
    const inside = [await RawClient.connect(pg.port), await RawClient.connect(pg.port)];
    for (const c of inside) expect((await c.login('postgres')).at(-1)?.type).toBe('ReadyForQuery');
    const extra = await RawClient.connect(pg.port);
    const answer = await extra.login('postgres');
    expect(shape(answer)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(answer)).toMatchObject({ severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' });
    for (const c of inside) c.close();
  });
});
