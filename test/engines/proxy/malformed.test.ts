/**
 * `ProxySession.malformed` against a real PostgreSQL 15: a message whose body cannot be decoded
 * goes upstream byte for byte, and PostgreSQL's own answer comes back through the usual checks
 * (an ERROR, then ReadyForQuery after a Query, or skipping to the next Sync in a batch); the
 * client's violation is reported, and the session goes on.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { PROTOCOL_3_0, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import type { BackendSink, EngineSession, MalformedMessage } from '../../../runtime/engine.js';
import { ProxyEngine, type ViolationReport } from '../../../runtime/engines/proxy/index.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';

let up: PostgresServer;
let engine: ProxyEngine;
let session: EngineSession;
const violations: ViolationReport[] = [];

beforeAll(async () => {
  up = await startPostgres();
  engine = new ProxyEngine({ upstream: `postgres://127.0.0.1:${up.port}/?sslmode=disable`, onViolation: (v) => violations.push(v) });
  session = await engine.openSession(
    { user: 'postgres', database: 'postgres', parameters: {}, protocolVersion: PROTOCOL_3_0, processId: 4242 },
    { asyncMessage: () => undefined, fatal: (err) => expect.fail(`the session was lost: ${err.message}`) },
  );
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await up?.stop();
});

/** A sink that keeps what the session sends, as type plus the field that tells the answer apart. */
function collect(): BackendSink & { readonly got: string[] } {
  const got: string[] = [];
  return {
    got,
    send(m: BackendMessage | { readonly type: string }) {
      const b = m as BackendMessage;
      if (b.type === 'ErrorResponse') {
        const f = (code: string): string | undefined => b.fields.find((x) => x.code === code)?.value;
        got.push(`ErrorResponse ${f('C')} ${f('M')}`);
      } else if (b.type === 'ReadyForQuery') got.push(`ReadyForQuery ${b.status}`);
      else if (b.type === 'DataRow') got.push(`DataRow ${b.values.texts().join(',')}`);
      else got.push(b.type);
    },
  };
}

async function malformed(type: FrontendMessage['type'], hex: string): Promise<string[]> {
  const out = collect();
  const frame = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  const message: MalformedMessage = { type, frame, error: { code: '08P01', message: 'the test sends it malformed' } };
  await session.malformed!(message, out);
  return out.got;
}

async function execute(messages: FrontendMessage[]): Promise<string[]> {
  const out = collect();
  await session.execute(messages, out);
  return out.got;
}

it('a Query without its terminating zero: PostgreSQL answers ERROR and ReadyForQuery', async () => {
  expect(await malformed('Query', '51 00000008 73656c65')).toEqual(['ErrorResponse 08P01 invalid string in message', 'ReadyForQuery I']);
  expect(violations.at(-1)).toEqual({ by: 'client', state: 'Ready', message: 'Query', detail: 'the test sends it malformed' });
});

it('a Bind with fewer values than its count, in a batch: ERROR, the batch is skipped up to its Sync', async () => {
  expect(await execute([{ type: 'Parse', statement: '', query: 'select $1::text, $2::text', parameterTypes: [] }])).toEqual(['ParseComplete']);
  expect(await malformed('Bind', '42 0000000f 00 00 0000 0002 00000001 31')).toEqual(['ErrorResponse 08P01 insufficient data left in message']);
  expect(await execute([{ type: 'Execute', portal: '', maxRows: 0 }, { type: 'Sync' }])).toEqual(['ReadyForQuery I']);
  expect(violations.at(-1)).toMatchObject({ by: 'client', message: 'Bind' });
});

it('a Sync with a body: ERROR, then ReadyForQuery; the session goes on', async () => {
  expect(await malformed('Sync', '53 00000005 00')).toEqual(['ErrorResponse 08P01 invalid message format', 'ReadyForQuery I']);
  expect(await execute([{ type: 'Query', query: 'select 41 + 1' }])).toEqual(['RowDescription', 'DataRow 42', 'CommandComplete', 'ReadyForQuery I']);
});
