/**
 * pgspec's client against a real PostgreSQL 15 (TLS on): every authentication method, simple and
 * extended queries, errors with all fields, notices, notifications, cancel and protocol
 * negotiation.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, PgClientConnection, PgError, type ConnectOptions } from '../../runtime/client/index.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';

let pgsrv: PostgresServer;
const open: PgClientConnection[] = [];

beforeAll(async () => {
  pgsrv = await startPostgres({
    ssl: true,
    users: [
      { name: 'scram_user', password: 'scram pw', auth: 'scram-sha-256' },
      { name: 'md5_user', password: 'md5 pw', auth: 'md5' },
      { name: 'clear_user', password: 'clear pw', auth: 'password' },
    ],
    initSql: 'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, $$one$$), (2, NULL); GRANT ALL ON items TO PUBLIC;',
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)));
  await pgsrv?.stop();
});

async function connect(o: Partial<ConnectOptions> = {}): Promise<PgClientConnection> {
  const c = await PgClientConnection.connect({ host: pgsrv.host, port: pgsrv.port, user: 'postgres', database: 'postgres', ...o });
  open.push(c);
  return c;
}

describe('authentication', () => {
  it('SCRAM-SHA-256 without TLS', async () => {
    const c = await connect({ user: 'scram_user', password: 'scram pw', tls: 'disable' });
    expect(c.authenticationMethod).toBe('SCRAM-SHA-256');
    expect(c.encrypted).toBe(false);
  });

  it('SCRAM-SHA-256-PLUS with channel binding on TLS, verifying the certificate', async () => {
    const ca = readFileSync(pgsrv.sslCertFile!, 'utf8');
    const c = await connect({ user: 'scram_user', password: 'scram pw', tls: 'require', ca, channelBinding: 'require' });
    expect(c.encrypted).toBe(true);
    expect(c.authenticationMethod).toBe('SCRAM-SHA-256-PLUS');
    expect((await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))[0]!.rows).toEqual([['t']]);
  });

  it('refuses a certificate it cannot verify', async () => {
    await expect(connect({ user: 'scram_user', password: 'scram pw', tls: 'require', ca: readFileSync(pgsrv.sslCertFile!, 'utf8'), servername: 'not-this-host' })).rejects.toMatchObject({
      name: 'ConnectionError',
      code: '08001',
    });
  });

  it('md5, cleartext and trust', async () => {
    expect((await connect({ user: 'md5_user', password: 'md5 pw', tls: 'disable' })).authenticationMethod).toBe('md5');
    expect((await connect({ user: 'clear_user', password: 'clear pw' })).authenticationMethod).toBe('cleartext');
    expect((await connect({ tls: 'disable' })).authenticationMethod).toBe('trust');
  });

  it('a wrong password is a PgError 28P01', async () => {
    await expect(connect({ user: 'scram_user', password: 'nope', tls: 'disable' })).rejects.toMatchObject({ name: 'PgError', code: '28P01' });
    await expect(connect({ user: 'md5_user', password: 'nope', tls: 'disable' })).rejects.toBeInstanceOf(PgError);
  });

  it('reports parameters and the cancel key', async () => {
    const c = await connect();
    expect(c.parameters.get('server_version')).toMatch(/^15\./);
    expect(c.parameters.get('client_encoding')).toBe('UTF8');
    expect(c.processId).toBeGreaterThan(0);
    expect(c.secretKey).toHaveLength(4);
    expect(c.state).toBe('Ready');
  });

  it('asked for 3.2 and a _pq_ option, is told 3.0 and the option is unrecognised', async () => {
    const c = await connect({ protocolVersion: '3.2', options: { '_pq_.something': 'on', application_name: 'pgspec-test' } });
    expect(c.protocolVersion).toBe(196608);
    expect(c.unrecognizedOptions).toEqual(['_pq_.something']);
    expect(c.parameters.get('application_name')).toBe('pgspec-test');
    expect((await c.query('SELECT 1'))[0]!.rows).toEqual([['1']]);
  });
});

describe('simple query', () => {
  it('returns every result set with tag, fields and text/null rows', async () => {
    const c = await connect();
    const results = await c.query("SELECT id, name FROM items ORDER BY id; UPDATE items SET name = name WHERE id = 1; SELECT 'x' AS y WHERE false");
    expect(results.map((r) => [r.command, r.rowCount])).toEqual([
      ['SELECT 2', 2],
      ['UPDATE 1', 1],
      ['SELECT 0', 0],
    ]);
    expect(results[0]!.fields.map((f) => [f.name, f.typeOid])).toEqual([
      ['id', 23],
      ['name', 25],
    ]);
    expect(results[0]!.rows).toEqual([
      ['1', 'one'],
      ['2', null],
    ]);
    expect((await c.query(''))[0]!.empty).toBe(true);
  });

  it('errors are PgErrors with every field, and the transaction status follows', async () => {
    const c = await connect();
    await c.query('BEGIN');
    const err = (await c.query('SELECT * FROM missing_table').catch((e: unknown) => e)) as PgError;
    expect(err).toBeInstanceOf(PgError);
    expect(err.code).toBe('42P01');
    expect(err.severity).toBe('ERROR');
    expect(err.position).toBe('15');
    expect(err.fields).toMatchObject({ severityNonLocalized: 'ERROR', message: 'relation "missing_table" does not exist', routine: expect.any(String), file: expect.any(String) });
    expect(c.transactionStatus).toBe('E');
    await c.query('ROLLBACK');
    expect(c.transactionStatus).toBe('I');
  });

  it('reads COPY TO STDOUT and refuses COPY FROM STDIN', async () => {
    const c = await connect();
    const [r] = await c.query('COPY (SELECT id FROM items ORDER BY id) TO STDOUT');
    expect(r!.command).toBe('COPY 2');
    expect(Buffer.concat(r!.copyData!.map((d) => Buffer.from(d))).toString()).toBe('1\n2\n');
    await expect(c.query('COPY items FROM STDIN')).rejects.toMatchObject({ code: '57014' });
    expect((await c.query('SELECT 1'))[0]!.rows).toEqual([['1']]);
  });
});

describe('extended query', () => {
  it('binds text, bytes and NULL parameters', async () => {
    const c = await connect();
    const r = await c.execute('SELECT $1::int + 1 AS n, $2::text AS t, $3::bytea AS b', ['41', null, new Uint8Array([1, 2])]);
    expect(r.command).toBe('SELECT 1');
    expect(r.rows).toEqual([['42', null, '\\x0102']]);
  });

  it('returns binary rows and stops at maxRows', async () => {
    const c = await connect();
    const bin = await c.execute('SELECT 258::int4', [], { binary: true });
    expect(bin.fields[0]!.format).toBe(1);
    expect(Buffer.from(bin.rows[0]![0]!).readInt32BE(0)).toBe(258);
    const some = await c.execute('SELECT generate_series(1, 5)', [], { maxRows: 2 });
    expect(some.suspended).toBe(true);
    expect(some.rows).toEqual([['1'], ['2']]);
  });

  it('prepares, executes and closes a named statement', async () => {
    const c = await connect();
    const s = await c.prepare('by_id', 'SELECT name FROM items WHERE id = $1');
    expect(s.parameterTypes).toEqual([23]);
    expect(s.fields.map((f) => f.name)).toEqual(['name']);
    expect((await c.executePrepared('by_id', ['1'])).rows).toEqual([['one']]);
    expect((await c.executePrepared('by_id', ['2'])).rows).toEqual([[null]]);
    await c.closePrepared('by_id');
    await expect(c.executePrepared('by_id', ['1'])).rejects.toMatchObject({ code: '26000' });
  });

  it('an error skips to Sync and the session goes on', async () => {
    const c = await connect();
    await expect(c.execute('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    expect((await c.execute('SELECT 2')).rows).toEqual([['2']]);
  });
});

describe('asynchronous messages, cancel, close', () => {
  it('emits notices and notifications', async () => {
    const listener = await connect();
    const notifier = await connect();
    const notices: string[] = [];
    listener.on('notice', (n) => notices.push(`${n.severity}: ${n.message}`));
    await listener.query("DO $$ BEGIN RAISE NOTICE 'hello %', 1; END $$");
    expect(notices).toEqual(['NOTICE: hello 1']);
    await listener.query('LISTEN pgspec_channel');
    const got = new Promise((r) => listener.once('notification', r));
    await notifier.query("NOTIFY pgspec_channel, 'payload'");
    expect(await got).toEqual({ processId: notifier.processId, channel: 'pgspec_channel', payload: 'payload' });
  });

  it('cancels a running query', async () => {
    const c = await connect({ tls: 'require' });
    const running = c.query('SELECT pg_sleep(30)');
    await new Promise((r) => setTimeout(r, 200));
    await c.cancel();
    await expect(running).rejects.toMatchObject({ code: '57014' });
    expect((await c.query('SELECT 3'))[0]!.rows).toEqual([['3']]);
  });

  it('closes with Terminate; later requests fail', async () => {
    const c = await connect();
    await c.close();
    expect(c.closed).toBe(true);
    await expect(c.query('SELECT 1')).rejects.toBeInstanceOf(ConnectionError);
  });

  it('reports a FATAL from the server as the reason the connection closed', async () => {
    const victim = await connect();
    const admin = await connect();
    const closed = new Promise<Error | undefined>((r) => victim.once('close', r));
    await admin.query(`SELECT pg_terminate_backend(${victim.processId})`);
    const err = await closed;
    expect(err).toBeInstanceOf(PgError);
    expect((err as PgError).code).toBe('57P01');
  });
});
