/**
 * Authentication methods side by side on one listener (trust, cleartext password, md5,
 * SCRAM-SHA-256), logged into with psql and node-postgres; failures compared with PostgreSQL 15.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { describeWithClient, runPsql } from '../support/clients.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { CLOSED, RawClient, errorOf, types } from './support/raw-client.js';
import { startServer, type RunningServer } from './support/servers.js';

const ACCOUNTS = [
  { user: 'trusty', method: 'trust', password: undefined },
  { user: 'clear', method: 'password', password: 'clear-pw' },
  { user: 'hashed', method: 'md5', password: 'md5-pw' },
  { user: 'salted', method: 'scram-sha-256', password: 'scram-pw' },
] as const;

let ours: RunningServer;
let real: PostgresServer;

beforeAll(async () => {
  [ours, real] = await Promise.all([
    startServer({ users: ACCOUNTS.map((a) => (a.password ? `${a.user}:${a.method}:${a.password}` : `${a.user}:${a.method}`)) }),
    startPostgres({ users: ACCOUNTS.map((a) => ({ name: a.user, auth: a.method, ...(a.password ? { password: a.password } : {}) })) }),
  ]);
});

afterAll(async () => {
  await Promise.all([ours?.close(), real?.stop()]);
});

const psqlArgs = (port: number, user: string, sql: string): string[] => [`host=127.0.0.1 port=${port} dbname=postgres user=${user} sslmode=disable`, '-At', '-c', sql];

describeWithClient('psql', 'authentication with psql', () => {
  it.each(ACCOUNTS)('logs in as $user ($method)', async ({ user, password }) => {
    const r = await runPsql(psqlArgs(ours.port, user, 'select 21'), undefined, { env: { PGPASSWORD: password ?? '' } });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('21');
  });

  it.each(ACCOUNTS.filter((a) => a.password !== undefined))('refuses a wrong password for $user ($method)', async ({ user }) => {
    const r = await runPsql(psqlArgs(ours.port, user, 'select 1'), undefined, { env: { PGPASSWORD: 'wrong' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`FATAL:  password authentication failed for user "${user}"`);
  });
});

describeWithClient('node-pg', 'authentication with node-postgres', () => {
  const connect = async (port: number, user: string, password: string | undefined): Promise<pg.Client> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user, database: 'postgres', ...(password !== undefined ? { password } : {}) });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  it.each(ACCOUNTS)('logs in as $user ($method)', async ({ user, password }) => {
    const client = await connect(ours.port, user, password);
    try {
      expect((await client.query('select 22')).rows).toEqual([{ '?column?': 22 }]);
    } finally {
      await client.end();
    }
  });

  // What the client sees of a failed login, on pgspec and on PostgreSQL 15.
  const failure = async (port: number, user: string, password: string): Promise<unknown> => {
    try {
      const c = await connect(port, user, password);
      await c.end();
      return 'logged in';
    } catch (err) {
      const e = err as pg.DatabaseError;
      return { severity: e.severity, code: e.code, message: e.message };
    }
  };

  it.each(ACCOUNTS.filter((a) => a.password !== undefined))('fails a wrong password for $user ($method) as PostgreSQL 15 does', async ({ user }) => {
    const mine = await failure(ours.port, user, 'wrong');
    expect(mine).toEqual({ severity: 'FATAL', code: '28P01', message: `password authentication failed for user "${user}"` });
    expect(mine).toEqual(await failure(real.port, user, 'wrong'));
  });
});

describe('authentication failures on the wire', () => {
  it('answers a wrong md5 password with FATAL 28P01 and closes', async () => {
    const c = await RawClient.connect(ours.port);
    c.send({ type: 'StartupMessage', protocolVersion: 196608, parameters: [{ name: 'user', value: 'hashed' }] });
    expect((await c.next()).type).toBe('AuthenticationMD5Password');
    c.send({ type: 'PasswordMessage', password: 'md5' + '0'.repeat(32) });
    const got = await c.drainToClose();
    expect(types(got)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '28P01' });
  });

  it('answers a wrong cleartext password with FATAL 28P01 and closes', async () => {
    const c = await RawClient.connect(ours.port);
    c.send({ type: 'StartupMessage', protocolVersion: 196608, parameters: [{ name: 'user', value: 'clear' }] });
    expect((await c.next()).type).toBe('AuthenticationCleartextPassword');
    c.send({ type: 'PasswordMessage', password: 'nope' });
    const got = await c.drainToClose();
    expect(types(got)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "clear"' });
  });

  it('refuses a user it has no rule for with FATAL 28000 and closes', async () => {
    const c = await RawClient.connect(ours.port);
    c.send({ type: 'StartupMessage', protocolVersion: 196608, parameters: [{ name: 'user', value: 'nobody' }] });
    const got = await c.drainToClose();
    expect(types(got)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '28000' });
    expect(got.at(-1)).toBe(CLOSED);
  });

  it('refuses a message other than the password while waiting for one (FATAL 08P01)', async () => {
    const c = await RawClient.connect(ours.port);
    c.send({ type: 'StartupMessage', protocolVersion: 196608, parameters: [{ name: 'user', value: 'clear' }] });
    expect((await c.next()).type).toBe('AuthenticationCleartextPassword');
    c.send({ type: 'Query', query: 'select 1' });
    const got = await c.drainToClose();
    expect(types(got)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '08P01' });
  });
});
