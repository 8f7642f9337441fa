/** pgbench against the trivial engine in each query mode: every transaction must succeed. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithClient, runPgbench } from '../support/clients.js';
import { startServer, type RunningServer } from './support/servers.js';

let ours: RunningServer;

beforeAll(async () => {
  ours = await startServer({ users: ['bench:trust'] });
});

afterAll(async () => {
  await ours?.close();
});

describeWithClient('pgbench', 'pgbench on the trivial engine', () => {
  it.each(['simple', 'extended', 'prepared'])('-M %s -c 4 -t 200 runs every transaction', async (mode) => {
    const r = await runPgbench(['-h', '127.0.0.1', '-p', String(ours.port), '-U', 'bench', '-n', '-M', mode, '-c', '4', '-t', '200', 'postgres'], {
      script: 'select 1\n',
      timeoutMs: 30_000,
    });
    expect(r.stderr).not.toMatch(/error|FATAL/i);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('number of transactions actually processed: 800/800');
    expect(r.stdout).toMatch(/number of failed transactions: 0 \(0\.000%\)/);
  });
});
