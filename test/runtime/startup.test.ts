/**
 * The startup phase with the trivial engine: SSLRequest/GSSENCRequest answers, TLS (negotiated
 * and direct with ALPN), protocol versions 3.0/3.2 and negotiation, startup errors, CancelRequest
 * with 4- and 32-byte keys and the startup timeout. Real clients where one can produce the case,
 * raw bytes otherwise, and the same raw conversation against a real PostgreSQL 15 where the
 * answer is PostgreSQL's to define.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { PROTOCOL_3_0, PROTOCOL_3_2, PROTOCOL_3_9999_RESERVED, STATE_MACHINE, type BackendKeyData, type NegotiateProtocolVersion } from '../../generated/index.js';
import { describeWithClient, runPsql } from '../support/clients.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { CLOSED, RawClient, encode, errorOf, shape, startup, types } from './support/raw-client.js';
import { CountingEngine, makeCertificateFiles, startServer, waitFor, type CertificateFiles, type RunningServer } from './support/servers.js';

const USERS = ['alice:scram-sha-256:alice-pw', 'bob:trust'];

let cert: CertificateFiles;
let plain: RunningServer; // no TLS configured
let secure: RunningServer; // TLS configured
let engine: CountingEngine;
let real: PostgresServer; // PostgreSQL 15 with ssl=on

beforeAll(async () => {
  cert = makeCertificateFiles();
  engine = new CountingEngine();
  [plain, secure, real] = await Promise.all([
    startServer({ users: USERS }),
    startServer({ users: USERS, engine, tls: { cert: cert.cert, key: cert.key }, startupTimeoutMs: 400 }),
    startPostgres({ ssl: true, users: [{ name: 'bob', auth: 'trust' }] }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.close(), secure?.close(), real?.stop()]);
  cert?.remove();
});

const conninfo = (port: number, extra: string): string => `host=127.0.0.1 port=${port} dbname=postgres ${extra}`;

describeWithClient('psql', 'startup with psql', () => {
  it('sends SSLRequest, gets N from a server without TLS, and goes on in plaintext', async () => {
    const r = await runPsql([conninfo(plain.port, 'user=bob sslmode=prefer'), '-At', '-c', '\\conninfo', '-c', 'select 7']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('SSL connection');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('7');
  });

  it.each(['require', 'verify-ca'])('connects with sslmode=%s to a self-signed certificate', async (mode) => {
    const r = await runPsql([conninfo(secure.port, `user=bob sslmode=${mode} sslrootcert=${cert.certFile}`), '-At', '-c', '\\conninfo', '-c', 'select 8']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('SSL connection');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('8');
  });

  it('verify-ca fails against a certificate it does not trust', async () => {
    const other = makeCertificateFiles();
    try {
      const r = await runPsql([conninfo(secure.port, `user=bob sslmode=verify-ca sslrootcert=${other.certFile}`), '-At', '-c', 'select 1']);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/certificate verify failed/);
    } finally {
      other.remove();
    }
  });

  it('logs in with SCRAM-SHA-256-PLUS under channel_binding=require over TLS', async () => {
    const r = await runPsql([conninfo(secure.port, 'user=alice sslmode=require channel_binding=require'), '-At', '-c', 'select 9'], undefined, {
      env: { PGPASSWORD: 'alice-pw' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('9');
  });

  it('channel_binding=require fails without TLS (the server offers no PLUS)', async () => {
    const r = await runPsql([conninfo(plain.port, 'user=alice sslmode=disable channel_binding=require'), '-At', '-c', 'select 1'], undefined, {
      env: { PGPASSWORD: 'alice-pw' },
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/channel binding/);
  });

  it('works with gssencmode=prefer', async () => {
    const r = await runPsql([conninfo(plain.port, 'user=bob gssencmode=prefer sslmode=disable'), '-At', '-c', 'select 10']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('10');
  });
});

describeWithClient('node-pg', 'startup with node-postgres', () => {
  it('negotiates TLS with ssl: { rejectUnauthorized: false }', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: secure.port, user: 'bob', database: 'postgres', ssl: { rejectUnauthorized: false } });
    await client.connect();
    try {
      const res = await client.query('select 11');
      expect(res.rows[0]).toEqual({ '?column?': 11 });
      expect((client as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream.encrypted).toBe(true);
    } finally {
      await client.end();
    }
  });

  it('connects with direct TLS (sslnegotiation: direct, ALPN "postgresql")', async () => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: secure.port,
      user: 'alice',
      password: 'alice-pw',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
      sslnegotiation: 'direct',
    } as pg.ClientConfig);
    await client.connect();
    try {
      const res = await client.query('select 12');
      expect(res.rows[0]).toEqual({ '?column?': 12 });
    } finally {
      await client.end();
    }
  });
});

describe('startup with raw bytes', () => {
  it('refuses direct TLS without ALPN', async () => {
    const c = await RawClient.connectDirectTls(secure.port, {});
    c.send(startup('bob'));
    const got = await c.drainToClose();
    expect(types(got)).not.toContain('AuthenticationOk');
    expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '08P01' });
    expect(got.at(-1)).toBe(CLOSED);
  });

  it('accepts direct TLS with ALPN "postgresql" and a StartupMessage inside', async () => {
    const c = await RawClient.connectDirectTls(secure.port, { ALPNProtocols: ['postgresql'] });
    expect((c.socket as import('node:tls').TLSSocket).alpnProtocol).toBe('postgresql');
    const got = await c.login('bob');
    expect(shape(got)).toEqual(['AuthenticationOk', 'BackendKeyData', 'ReadyForQuery']);
    c.close();
  });

  it('answers GSSENCRequest with N and goes on to a StartupMessage', async () => {
    const c = await RawClient.connect(plain.port);
    expect(await c.request({ type: 'GSSENCRequest' })).toEqual({ type: 'GSSENCRejected' });
    expect(await c.request({ type: 'SSLRequest' })).toEqual({ type: 'SSLRejected' });
    const got = await c.login('bob');
    expect(shape(got)).toEqual(['AuthenticationOk', 'BackendKeyData', 'ReadyForQuery']);
    c.close();
  });

  // Each case runs the same bytes against pgspec and PostgreSQL 15, and compares.
  async function both(conversation: (c: RawClient) => Promise<unknown[]>, ours = secure.port): Promise<[unknown[], unknown[]]> {
    const a = await RawClient.connect(ours);
    const b = await RawClient.connect(real.port);
    try {
      return [await conversation(a), await conversation(b)];
    } finally {
      a.close();
      b.close();
    }
  }

  it('refuses plaintext pipelined right behind an SSLRequest (FATAL 08P01), as PostgreSQL does', async () => {
    const [ours, theirs] = await both(async (c) => {
      const reply = await c.request({ type: 'SSLRequest' }, encode(startup('bob')));
      // PostgreSQL completes the handshake, then refuses what came before it, inside TLS.
      await c.startTls();
      const rest = await c.drainToClose();
      return [reply.type, errorOf(rest).code, errorOf(rest).severity, errorOf(rest).message, rest.at(-1)!.type];
    });
    expect(ours).toEqual(['SSLAccepted', '08P01', 'FATAL', STATE_MACHINE.errors.plaintextAfterEncryptionRequest.message, 'Closed']);
    expect(ours).toEqual(theirs);
  });

  it('refuses a second SSLRequest inside TLS with 0A000, as PostgreSQL does', async () => {
    const [ours, theirs] = await both(async (c) => {
      expect((await c.request({ type: 'SSLRequest' })).type).toBe('SSLAccepted');
      await c.startTls();
      c.send({ type: 'SSLRequest' });
      const got = await c.drainToClose();
      const e = errorOf(got);
      return [e.severity, e.code, e.message.replace(/ to 3\.\d$/, ''), got.at(-1)!.type];
    });
    expect(ours).toEqual(['FATAL', '0A000', 'unsupported frontend protocol 1234.5679: server supports 3.0', 'Closed']);
    expect(ours).toEqual(theirs);
  });

  it('refuses major version 4 with FATAL 0A000, as PostgreSQL does', async () => {
    const [ours, theirs] = await both(async (c) => {
      c.send(startup('bob', { protocolVersion: 4 << 16 }));
      const got = await c.drainToClose();
      const e = errorOf(got);
      return [types(got), e.severity, e.code, e.message.replace(/ to 3\.\d$/, '')];
    });
    expect(ours).toEqual([['ErrorResponse', 'Closed'], 'FATAL', '0A000', 'unsupported frontend protocol 4.0: server supports 3.0']);
    expect(ours).toEqual(theirs);
  });

  it('refuses a StartupMessage without user with FATAL 28000, as PostgreSQL does', async () => {
    const [ours, theirs] = await both(async (c) => {
      c.send(startup(undefined, { parameters: [{ name: 'database', value: 'postgres' }] }));
      const got = await c.drainToClose();
      const e = errorOf(got);
      return [types(got), e.severity, e.code, e.message];
    });
    expect(ours).toEqual([['ErrorResponse', 'Closed'], 'FATAL', '28000', 'no PostgreSQL user name specified in startup packet']);
    expect(ours).toEqual(theirs);
  });

  it('answers 3.9999 with _pq_.test_protocol_negotiation with NegotiateProtocolVersion, then goes on', async () => {
    const [ours, theirs] = await both(async (c) => {
      const got = await c.login('bob', { protocolVersion: PROTOCOL_3_9999_RESERVED, parameters: [{ name: 'database', value: 'postgres' }, { name: '_pq_.test_protocol_negotiation', value: '' }] });
      const npv = got.find((m): m is NegotiateProtocolVersion => m.type === 'NegotiateProtocolVersion')!;
      c.send({ type: 'Query', query: 'select 1' });
      const q = await c.until('ReadyForQuery');
      return [shape(got), npv.newestVersion, npv.unrecognizedOptions, shape(q)];
    });
    expect(ours).toEqual([
      ['NegotiateProtocolVersion', 'AuthenticationOk', 'BackendKeyData', 'ReadyForQuery'],
      PROTOCOL_3_2,
      ['_pq_.test_protocol_negotiation'],
      ['RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery'],
    ]);
    // PostgreSQL 15 only has 3.0; everything else is the same.
    expect(theirs).toEqual([ours[0], PROTOCOL_3_0, ours[2], ours[3]]);
  });

  it('gives a 32-byte cancel key under 3.2 and a 4-byte one under 3.0, without NegotiateProtocolVersion', async () => {
    for (const [version, length] of [
      [PROTOCOL_3_2, 32],
      [PROTOCOL_3_0, 4],
    ] as const) {
      const c = await RawClient.connect(plain.port);
      const got = await c.login('bob', { protocolVersion: version });
      expect(types(got)).not.toContain('NegotiateProtocolVersion');
      const key = got.find((m): m is BackendKeyData => m.type === 'BackendKeyData')!;
      expect(key.secretKey.length).toBe(length);
      c.close();
    }
  });

  it('cancels with a 4-byte and a 32-byte key; a wrong key does nothing', async () => {
    for (const version of [PROTOCOL_3_0, PROTOCOL_3_2]) {
      const c = await RawClient.connect(secure.port);
      const key = (await c.login('bob', { protocolVersion: version })).find((m): m is BackendKeyData => m.type === 'BackendKeyData')!;

      const before = engine.cancels;
      const flipped = Buffer.from(key.secretKey);
      flipped[0]! ^= 0xff;
      // Right bytes, wrong length: the 3.0 key padded to 32 bytes, the 3.2 key cut to 4.
      const resized = key.secretKey.length === 4 ? Buffer.concat([key.secretKey, Buffer.alloc(28)]) : key.secretKey.subarray(0, 4);
      for (const secretKey of [flipped, resized]) {
        const x = await RawClient.connect(secure.port);
        x.send({ type: 'CancelRequest', processId: key.processId, secretKey });
        expect(await x.drainToClose()).toEqual([CLOSED]);
      }
      expect(engine.cancels).toBe(before);

      const ok = await RawClient.connect(secure.port);
      ok.send({ type: 'CancelRequest', processId: key.processId, secretKey: key.secretKey });
      expect(await ok.drainToClose()).toEqual([CLOSED]);
      expect(engine.cancels).toBe(before + 1);

      // The session itself is untouched and still serves.
      c.send({ type: 'Query', query: 'select 5' });
      expect(shape(await c.until('ReadyForQuery'))).toEqual(['RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
      c.close();
    }
  });

  it('closes a connection that stays silent past startupTimeoutMs', async () => {
    const c = await RawClient.connect(secure.port);
    const t0 = Date.now();
    expect(await c.drainToClose(5000)).toEqual([CLOSED]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('closes a connection that stops half-way through authentication past startupTimeoutMs', async () => {
    const c = await RawClient.connect(secure.port);
    c.send(startup('alice'));
    const got = await c.drainToClose(5000);
    expect(types(got)[0]).toBe('AuthenticationSASL');
    expect(got.at(-1)).toBe(CLOSED);
  });

  it('serves other connections after all of the above', async () => {
    await waitFor(() => secure.server.connectionCount === 0, 3000, 'connections to close');
    const c = await RawClient.connect(secure.port);
    expect(shape(await c.login('bob'))).toEqual(['AuthenticationOk', 'BackendKeyData', 'ReadyForQuery']);
    c.close();
  });
});
