/**
 * pgspec's client against pgspec's own server (trivial engine): the same login methods, TLS with
 * channel binding, protocol 3.2 with its long cancel key, and cancel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgClientConnection, PgError, type ConnectOptions } from '../../runtime/client/index.js';
import { CountingEngine, makeCertificateFiles, startServer, waitFor, type CertificateFiles, type RunningServer } from '../runtime/support/servers.js';

let srv: RunningServer;
let engine: CountingEngine;
let cert: CertificateFiles;

beforeAll(async () => {
  cert = makeCertificateFiles();
  engine = new CountingEngine();
  srv = await startServer({
    engine,
    tls: { cert: cert.cert, key: cert.key },
    users: ['sam:scram-sha-256:sam pw', 'mo:md5:mo pw', 'cleo:password:cleo pw', '*:trust'],
  });
});

afterAll(async () => {
  await srv?.close();
  cert?.remove();
});

const connect = (o: Partial<ConnectOptions>): Promise<PgClientConnection> =>
  PgClientConnection.connect({ host: '127.0.0.1', port: srv.port, user: 'anyone', ...o });

describe('against the pgspec server', () => {
  it.each([
    ['sam', 'sam pw', 'disable', 'SCRAM-SHA-256', false],
    ['sam', 'sam pw', 'require', 'SCRAM-SHA-256-PLUS', true],
    ['mo', 'mo pw', 'prefer', 'md5', true],
    ['cleo', 'cleo pw', 'disable', 'cleartext', false],
    ['anyone', undefined, 'prefer', 'trust', true],
  ] as const)('%s logs in (password %s, tls %s) with %s', async (user, password, tls, method, encrypted) => {
    const c = await connect({ user, password, tls, ca: cert.cert, servername: 'localhost', rejectUnauthorized: false });
    try {
      expect(c.authenticationMethod).toBe(method);
      expect(c.encrypted).toBe(encrypted);
      expect((await c.query('select 5'))[0]!.rows).toEqual([['5']]);
      expect((await c.execute('select 6')).rows).toEqual([['6']]);
    } finally {
      await c.close();
    }
  });

  it('a wrong password fails with the server FATAL', async () => {
    await expect(connect({ user: 'sam', password: 'x', tls: 'disable' })).rejects.toSatisfy((e) => e instanceof PgError && e.code === '28P01');
  });

  it('speaks 3.2 with a 32-byte cancel key, and cancels on a new connection', async () => {
    const c = await connect({ protocolVersion: '3.2', tls: 'disable' });
    try {
      expect(c.protocolVersion).toBe(196610);
      expect(c.unrecognizedOptions).toEqual([]);
      expect(c.secretKey).toHaveLength(32);
      const before = engine.cancels;
      await c.cancel();
      await waitFor(() => engine.cancels === before + 1, 5000, 'the cancel');
    } finally {
      await c.close();
    }
  });

  it('tracks transaction status and the state machine', async () => {
    const c = await connect({ tls: 'disable' });
    try {
      await c.query('BEGIN');
      expect(c.transactionStatus).toBe('T');
      await c.query('COMMIT');
      expect(c.transactionStatus).toBe('I');
      expect(c.state).toBe('Ready');
      const s = await c.prepare('s1', 'select 9');
      expect(s.fields.map((f) => f.typeOid)).toEqual([23]);
      expect((await c.executePrepared('s1')).rows).toEqual([['9']]);
    } finally {
      await c.close();
    }
  });
});
