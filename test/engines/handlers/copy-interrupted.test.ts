/**
 * A message PostgreSQL does not take during COPY FROM STDIN (a Query, a Parse) fails the COPY with
 * 08P01 naming its type byte, and the session ends with FATAL 08P01. The handler engine is told
 * through `copyInterrupted` and fails its COPY with that error; the runtime sends the FATAL. Checked
 * over TCP against a real PostgreSQL 15 given the same bytes (PostgreSQL's COPY context line, which
 * names the table and line, is the one field a handler cannot know, and is not compared).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readErrorFields } from '../../../runtime/protocol/error-fields.js';
import { PgServer } from '../../../runtime/server/server.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import { encode, RawClient, type Received } from '../../runtime/support/raw-client.js';
import { fixtureEngine } from './fixtures.js';

let pg: PostgresServer;
let server: PgServer;
let port: number;

beforeAll(async () => {
  pg = await startPostgres({ initSql: 'CREATE TABLE items (id int, name text, at timestamp);' });
  server = new PgServer({ engine: fixtureEngine(), listeners: [{ port: 0 }] });
  const [address] = await server.listen();
  port = address!.port!;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await pg?.stop();
});

/** Errors by severity, SQLSTATE and text; other messages by type. */
function summary(messages: readonly Received[]): string[] {
  return messages.map((m) => {
    if (m.type !== 'ErrorResponse') return m.type;
    const e = readErrorFields(m);
    return `${e.severity} ${e.code} ${e.message}`;
  });
}

/** Starts COPY items FROM STDIN, sends a row, then `interruption`: everything the server says until it closes. */
async function interruptCopy(serverPort: number, interruption: Uint8Array): Promise<Received[]> {
  const c = await RawClient.connect(serverPort);
  try {
    await c.login('postgres', { parameters: [{ name: 'database', value: 'postgres' }] });
    c.send({ type: 'Query', query: 'COPY items FROM STDIN' });
    await c.until('CopyInResponse');
    c.write(Buffer.concat([encode({ type: 'CopyData', data: Buffer.from('1\tx\t2024-01-01\n') }), interruption]));
    return await c.drainToClose();
  } finally {
    c.close();
  }
}

describe('a message that interrupts COPY FROM STDIN, on the handler engine as on PostgreSQL 15', () => {
  const cases: Record<string, Uint8Array> = {
    'a Query': encode({ type: 'Query', query: 'select 1' }),
    'a Parse': encode({ type: 'Parse', statement: '', query: 'select 1', parameterTypes: [] }),
  };
  for (const [title, bytes] of Object.entries(cases)) {
    it(`${title}: ERROR 08P01 for its type byte, then FATAL, then the close`, async () => {
      const [ours, theirs] = await Promise.all([interruptCopy(port, bytes), interruptCopy(pg.port, bytes)]);
      expect(summary(ours)).toEqual(summary(theirs));
      expect(summary(ours)[0]).toMatch(/^ERROR 08P01 unexpected message type 0x[0-9A-F]{2} during COPY from stdin$/);
      expect(summary(ours).at(-1)).toBe('Closed');
    });
  }
});
