/**
 * The wire tracer between real clients and a real PostgreSQL 15: it prints the startup, the
 * authentication ('p' messages told apart by state) and the queries, in text or JSON, terminates
 * TLS with a certificate, and marks what the state machine does not allow.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer, type AddressInfo, type Server } from 'node:net';
import pg from 'pg';
import { describeWithClient, runPsql } from '../support/clients.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { makeCertificate } from '../auth/certificates.js';
import { WireTracer, type TraceEvent } from '../../runtime/trace/index.js';
import { BASE_CODECS } from '../../runtime/protocol/extension.js';
import { Writer } from '../../runtime/wire/index.js';
import type { BackendMessage } from '../../generated/index.js';
import { parseTraceArgs } from '../../cli/trace.js';

let up: PostgresServer;

beforeAll(async () => {
  up = await startPostgres({ ssl: true, users: [{ name: 'alice', password: 'secret' }] });
}, 120_000);

afterAll(async () => {
  await up?.stop();
});

async function withTracer<T>(options: { json?: boolean; tls?: { cert: string; key: string }; upstreamPort?: number }, fn: (port: number, lines: string[], events: TraceEvent[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  const events: TraceEvent[] = [];
  const tracer = new WireTracer({
    upstream: { host: '127.0.0.1', port: options.upstreamPort ?? up.port },
    json: options.json ?? false,
    ...(options.tls ? { tls: options.tls } : {}),
    write: (l) => lines.push(l),
    onEvent: (e) => events.push(e),
  });
  const { port } = await tracer.listen();
  try {
    return await fn(port, lines, events);
  } finally {
    await tracer.close();
  }
}

describeWithClient('psql', 'psql through the tracer', () => {
  it('prints the startup, SCRAM authentication and query messages both ways, with no violation', async () => {
    await withTracer({}, async (port, lines, events) => {
      const r = await runPsql(['-h', '127.0.0.1', '-p', String(port), '-U', 'alice', '-d', 'postgres', '-At', '-c', 'select 40 + 2'], undefined, { env: { PGPASSWORD: 'secret', PGSSLMODE: 'prefer' } });
      expect(r.stdout.trim()).toBe('42');
      await new Promise((res) => setTimeout(res, 100));
      const text = lines.join('\n');
      for (const expected of [
        /#1 F → SSLRequest/,
        /#1 B ← SSLRejected \[answered by the tracer\]/,
        /#1 F → StartupMessage protocolVersion=196608 parameters=\[user="alice"/,
        /#1 B ← AuthenticationSASL mechanisms=\["SCRAM-SHA-256"\]/,
        /#1 F → SASLInitialResponse mechanism="SCRAM-SHA-256"/,
        /#1 B ← AuthenticationSASLContinue/,
        /#1 F → SASLResponse/,
        /#1 B ← AuthenticationSASLFinal/,
        /#1 B ← AuthenticationOk/,
        /#1 B ← ParameterStatus name="server_version"/,
        /#1 B ← BackendKeyData/,
        /#1 B ← ReadyForQuery status="I"/,
        /#1 F → Query query="select 40 \+ 2"/,
        /#1 B ← RowDescription columns=\[\?column\?:23\]/,
        /#1 B ← DataRow values=\["42"\]/,
        /#1 B ← CommandComplete tag="SELECT 1"/,
        /#1 F → Terminate/,
      ]) {
        expect(text).toMatch(expected);
      }
      expect(events.filter((e) => e.violation)).toEqual([]);
    });
  });

  it('terminates client TLS with a certificate and uses TLS upstream when offered', async () => {
    const cert = makeCertificate('ecdsa-sha256');
    await withTracer({ tls: { cert: cert.certPem, key: cert.keyPem } }, async (port, lines) => {
      const r = await runPsql(['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-At', '-c', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'], undefined, { env: { PGSSLMODE: 'require' } });
      expect(r.stdout.trim()).toBe('t');
      const text = lines.join('\n');
      expect(text).toMatch(/#1 B ← SSLAccepted \[answered by the tracer\]/);
      expect(text).toMatch(/#1 -- client TLS established/);
      expect(text).toMatch(/#1 -- upstream TLS established/);
      expect(text).toMatch(/#1 F → Query query="select ssl from pg_stat_ssl/);
    });
  });
});

it('prints JSON lines with --json, and forwards a cancel request', async () => {
  await withTracer({ json: true }, async (port, lines) => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await c.connect();
    const q = c.query('select pg_sleep(10)');
    await new Promise((r) => setTimeout(r, 300));
    const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
    const { sendCancelRequest } = await import('../../runtime/client/cancel.js');
    const key = Buffer.alloc(4);
    key.writeInt32BE(secretKey);
    await sendCancelRequest({ host: '127.0.0.1', port, processId: processID, secretKey: key, tls: 'disable', tlsOptions: {} });
    await expect(q).rejects.toMatchObject({ code: '57014' });
    await c.end();
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toContainEqual(expect.objectContaining({ conn: 1, dir: 'F', type: 'Query', message: { type: 'Query', query: 'select pg_sleep(10)' } }));
    expect(parsed).toContainEqual(expect.objectContaining({ conn: 2, dir: 'F', type: 'CancelRequest' }));
    expect(parsed).toContainEqual(expect.objectContaining({ conn: 1, dir: 'B', type: 'ErrorResponse' }));
  });
});

it('marks a message the state machine does not allow (a fake upstream injects one)', async () => {
  const encode = (ms: BackendMessage[]): Buffer => {
    const w = new Writer(256);
    for (const m of ms) BASE_CODECS.encodeBackend(w, m);
    return w.take();
  };
  const fake: Server = createServer((s) => {
    let startup = true;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      if (startup) {
        startup = false;
        s.write(encode([{ type: 'AuthenticationOk' }, { type: 'BackendKeyData', processId: 1, secretKey: Buffer.from([0, 0, 0, 1]) }, { type: 'ReadyForQuery', status: 'I' }]));
      } else if (d[0] === 'Q'.charCodeAt(0)) {
        s.write(encode([{ type: 'AuthenticationOk' }, { type: 'CommandComplete', tag: 'SELECT 0' }, { type: 'ReadyForQuery', status: 'I' }]));
      }
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  try {
    await withTracer({ upstreamPort: (fake.address() as AddressInfo).port }, async (port, lines, events) => {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      c.on('error', () => undefined);
      await c.connect();
      await c.query('select 1').catch(() => undefined);
      await c.end().catch(() => undefined);
      expect(events.filter((e) => e.violation).map((e) => [e.type, e.state])).toEqual([['AuthenticationOk', 'SimpleQuery']]);
      expect(lines.join('\n')).toMatch(/#1 B ← AuthenticationOk\s+!! VIOLATION in SimpleQuery: sending AuthenticationOk is not allowed in state SimpleQuery/);
    });
  } finally {
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  }
});

it('parses the trace command line', () => {
  expect(parseTraceArgs(['--listen', '6543', '--upstream', 'db.example:5432', '--json'])).toEqual({ host: '127.0.0.1', port: 6543, upstreamHost: 'db.example', upstreamPort: 5432, json: true });
  expect(() => parseTraceArgs(['--listen', '6543'])).toThrow(/--upstream is required/);
  expect(() => parseTraceArgs(['--listen', '1', '--upstream', 'h:2', '--tls-cert', 'c'])).toThrow(/go together/);
});
