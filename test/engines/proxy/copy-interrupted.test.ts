/**
 * The upstream of the proxy lost in the middle of a COPY, either way: its connection cut (the
 * client gets 08006) or its backend terminated by an administrator (57P01). The client, psql in
 * the middle of a \copy, gets the error with its SQLSTATE and exits, never hangs; the proxy goes
 * on serving other clients.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithClient, runPsql } from '../../support/clients.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import { expectServing, startProxy, startRelay } from './helpers.js';

/** COPY bytes the upstream has processed before it is killed: the COPY is well under way. */
const KILL_AFTER_BYTES = 2 * 1024 * 1024;

let up: PostgresServer;

beforeAll(async () => {
  up = await startPostgres({ initSql: 'create unlogged table copy_sink (id int, payload text);' });
}, 120_000);

afterAll(async () => {
  await up?.stop();
});

/** A program printing COPY rows without end, 60 kB every 2 ms (no quotes: it goes in a quoted \\copy argument). */
const BURSTS =
  'python3 -c "import sys, time; w = sys.stdout.buffer; row = bytes([49, 9]) + bytes([121]) * 200 + bytes([10]); ' +
  '[(w.write(row * 300), w.flush(), time.sleep(0.002)) for _ in iter(int, 1)]"';

/**
 * Both directions, without end: psql is always in the middle of sending or receiving when the
 * upstream goes. The rows to send come in bursts, as from a program producing them: the server
 * closes a session's socket right after its FATAL, and with a flood of the client's data still
 * unread there TCP resets the connection, which can drop the FATAL before the client reads it.
 */
const COPIES = {
  'COPY FROM STDIN': `\\copy copy_sink from program '${BURSTS}'`,
  'COPY TO STDOUT': `\\copy (select i, repeat('z', 200) from generate_series(1, 5000000) i) to '/dev/null'`,
};

/**
 * The SQLSTATEs the client may get. A terminated backend's FATAL 57P01 is passed on; but a
 * backend blocked writing COPY TO output (its client is slower than it) cannot send its FATAL in
 * the middle of a message and closes without one, as it would to a direct client: the proxy then
 * reports the lost connection (08006).
 */
const KILLS = {
  'its connection is cut': { 'COPY FROM STDIN': ['08006'], 'COPY TO STDOUT': ['08006'] },
  'its backend is terminated': { 'COPY FROM STDIN': ['57P01'], 'COPY TO STDOUT': ['57P01', '08006'] },
};

/** Resolves once the upstream's COPY has processed `bytes` (pg_stat_progress_copy), for the application named. */
async function copyUnderWay(app: string, bytes: number): Promise<void> {
  for (;;) {
    const done = await up.admin(
      `select coalesce(max(c.bytes_processed), 0) from pg_stat_progress_copy c join pg_stat_activity a using (pid) where a.application_name = '${app}'`,
    );
    if (Number(done) >= bytes) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeWithClient('psql', 'the upstream lost mid-COPY', () => {
  for (const [direction, copy] of Object.entries(COPIES) as [keyof typeof COPIES, string][]) {
    for (const [how, codes] of Object.entries(KILLS)) {
      const cut = how === 'its connection is cut';
      it(`${direction}, ${how}: psql gets ${codes[direction].join(' or ')} and the proxy serves others`, async () => {
        // A relay in between only to cut it; a terminated backend's FATAL must reach the proxy as sent.
        const relay = await startRelay('127.0.0.1', up.port);
        const proxy = await startProxy(`postgres://127.0.0.1:${cut ? relay.port : up.port}/?sslmode=disable`);
        const app = `copy-victim-${cut ? 'cut' : 'terminated'}`;
        try {
          const psql = runPsql(['-h', '127.0.0.1', '-p', String(proxy.port), '-U', 'postgres', '-d', 'postgres', '-v', 'VERBOSITY=verbose', '-c', copy], undefined, {
            env: { PGAPPNAME: app },
            timeoutMs: 60_000,
          });
          await copyUnderWay(app, KILL_AFTER_BYTES);
          if (cut) relay.cut();
          else await up.admin(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = '${app}'`);
          const r = await psql;
          expect(r.exitCode, r.stderr).not.toBe(0);
          const code = /FATAL: {2}([0-9A-Z]{5}):/.exec(r.stderr)?.[1];
          expect(codes[direction], r.stderr).toContain(code);
          await expectServing(proxy.port);
          expect(proxy.violations).toEqual([]);
        } finally {
          await proxy.close();
          await relay.close();
          await up.admin('truncate copy_sink');
        }
      }, 90_000);
    }
  }
});

describeWithClient('psql', 'an upstream error mid-COPY FROM', () => {
  it('a bad first row fails the COPY while psql still sends (ERROR 22P02), and the session goes on', async () => {
    const proxy = await startProxy(`postgres://127.0.0.1:${up.port}/?sslmode=disable`);
    try {
      // ~40 MB after the bad row: PostgreSQL's error comes back while the client is still sending.
      const rows = `\\copy copy_sink from program '(echo "oops	x"; yes "1	${'y'.repeat(200)}" | head -n 200000)'`;
      const r = await runPsql(['-h', '127.0.0.1', '-p', String(proxy.port), '-U', 'postgres', '-d', 'postgres', '-At', '-v', 'VERBOSITY=verbose', '-c', rows, '-c', "select 'after', count(*) from copy_sink"], undefined, {
        timeoutMs: 60_000,
      });
      expect(r.stderr).toMatch(/ERROR: {2}22P02: invalid input syntax for type integer: "oops"/);
      expect(r.stdout.trim()).toBe('after|0');
      expect(proxy.violations).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 90_000);
});
