/**
 * Server shutdown: every idle session gets FATAL 57P01 ("terminating connection due to
 * administrator command") and sees its connection end, as with PostgreSQL's smart/fast shutdown.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import pg from 'pg';
import { describeWithClient } from '../support/clients.js';
import { CLOSED, RawClient, errorOf, types } from './support/raw-client.js';
import { startServer, waitFor } from './support/servers.js';

const ADMIN_SHUTDOWN = { severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' };

it('sends FATAL 57P01 to an idle raw session and closes it', async () => {
  const ours = await startServer({ users: ['bob:trust'] });
  try {
    const c = await RawClient.connect(ours.port);
    await c.login('bob');
    await ours.close();
    const got = await c.drainToClose();
    expect(types(got)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(got)).toMatchObject(ADMIN_SHUTDOWN);
    expect(got.at(-1)).toBe(CLOSED);
  } finally {
    await ours.close();
  }
});

describeWithClient('psql', 'shutdown with psql connected', () => {
  it('an idle psql session sees FATAL 57P01 and the end of its connection', async () => {
    const ours = await startServer({ users: ['bob:trust'] });
    const psql = spawn('psql', ['-X', '-At', `host=127.0.0.1 port=${ours.port} user=bob dbname=postgres sslmode=disable`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    psql.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    psql.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => psql.on('close', resolve));
    try {
      psql.stdin.write('select 31;\n');
      await waitFor(() => stdout.includes('31'), 10_000, 'psql to run its first query');
      await ours.close();
      // psql notices when it next uses the connection, as it does with PostgreSQL.
      psql.stdin.write('select 32;\n');
      psql.stdin.end();
      expect(await exited).toBe(2);
      expect(stdout).not.toContain('32');
      expect(stderr).toContain('FATAL:  terminating connection due to administrator command');
    } finally {
      psql.kill();
      await ours.close();
    }
  });
});

describeWithClient('node-pg', 'shutdown with node-postgres connected', () => {
  it('an idle node-postgres client gets a 57P01 error and an end event', async () => {
    const ours = await startServer({ users: ['bob:trust'] });
    const client = new pg.Client({ host: '127.0.0.1', port: ours.port, user: 'bob', database: 'postgres' });
    try {
      await client.connect();
      expect((await client.query('select 33')).rows).toEqual([{ '?column?': 33 }]);
      // The FATAL comes first; node-pg then reports the closed socket as a second error.
      const errors: Error[] = [];
      const error = new Promise<pg.DatabaseError>((resolve) =>
        client.on('error', (e) => {
          errors.push(e);
          resolve(errors[0] as pg.DatabaseError);
        }),
      );
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      await ours.close();
      const e = await error;
      expect({ severity: e.severity, code: e.code, message: e.message }).toEqual(ADMIN_SHUTDOWN);
      await ended;
    } finally {
      await client.end().catch(() => undefined);
      await ours.close();
    }
  });
});
