/**
 * The load script on a short budget, as CI runs it (`npm run load` runs the full 1,000-connection,
 * 20-second version). The script exits 1 if any operation got an unexpected answer.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

it.each(['trivial', 'handlers'])('runs a mixed workload on 50 connections against the %s engine with no errors', (engine) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'load/run.ts'), '--seconds', '2', '--connections', '50', '--engine', engine], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/p99/);
}, 150_000);
