import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from './postgres-server.js';

async function queryOnce(config: pg.ClientConfig, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('startPostgres', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres({
      ssl: true,
      users: [
        { name: 'scram_user', password: 's3cret' },
        { name: 'md5_user', password: 'md5pw', auth: 'md5' },
        { name: 'plain_user', password: 'plainpw', auth: 'password' },
        { name: 'trust_user' },
      ],
      settings: { work_mem: '5MB' },
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('listens on 127.0.0.1 and serves the superuser', async () => {
    expect(server.host).toBe('127.0.0.1');
    const result = await queryOnce({ connectionString: server.url() }, 'select current_user as u, version() as v');
    expect(result.rows[0]).toMatchObject({ u: 'postgres' });
    expect(String(result.rows[0].v)).toMatch(/^PostgreSQL 15\./);
  });

  it('logs a SCRAM user in and rejects a wrong password', async () => {
    const ok = await queryOnce({ connectionString: server.url('scram_user', 's3cret') }, 'select current_user as u');
    expect(ok.rows[0].u).toBe('scram_user');
    const rules = await server.admin("select auth_method from pg_hba_file_rules where 'scram_user' = any(user_name) and type = 'host'");
    expect(rules.trim()).toBe('scram-sha-256');
    await expect(queryOnce({ connectionString: server.url('scram_user', 'wrong') }, 'select 1')).rejects.toMatchObject({
      code: '28P01',
    });
  });

  it('stores an MD5 secret for md5 users and supports cleartext password and trust', async () => {
    const stored = await server.admin("select left(rolpassword, 3) from pg_authid where rolname = 'md5_user'");
    expect(stored.trim()).toBe('md5');
    for (const [user, password] of [['md5_user', 'md5pw'], ['plain_user', 'plainpw'], ['trust_user', undefined]] as const) {
      const result = await queryOnce({ connectionString: server.url(user, password) }, 'select current_user as u');
      expect(result.rows[0].u).toBe(user);
    }
  });

  it('serves TLS with the self-signed certificate and applies extra settings', async () => {
    expect(server.sslCertFile && existsSync(server.sslCertFile)).toBeTruthy();
    const result = await queryOnce(
      { connectionString: server.url(), ssl: { rejectUnauthorized: false } },
      'select ssl, current_setting(\'work_mem\') as work_mem from pg_stat_ssl where pid = pg_backend_pid()',
    );
    expect(result.rows[0]).toEqual({ ssl: true, work_mem: '5MB' });
  });

  it('stops and removes its directory', async () => {
    const other = await startPostgres();
    await other.stop();
    expect(existsSync(other.baseDir)).toBe(false);
    expect(await refusesConnections(other.port)).toBe(true);
    await other.stop(); // idempotent
  });
});
