/**
 * A short-budget server fuzz (fuzz/server-fuzz.ts) in a child process started with --expose-gc,
 * so the heap can be measured after garbage collection: random and mutated bytes at every stage
 * of a connection, a control client throughout, memory back to its baseline afterwards.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ServerFuzzReport } from '../../fuzz/server-fuzz.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

describe('server fuzzing (short budget)', () => {
  it('600 hostile connections across every stage: each ends in an error and a close or a clean close; others are served; memory returns', async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'fuzz/server-fuzz.ts', '--connections', '600', '--seconds', '60', '--seed', '77'], {
      cwd: ROOT,
      timeout: 90_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string; stderr?: string }) => {
      // A non-zero exit still printed its report: let the assertions below say what failed.
      if (err.stdout) return { stdout: err.stdout };
      throw new Error(`server fuzz did not run: ${err.stderr ?? String(err)}`);
    });
    const report = JSON.parse(stdout) as ServerFuzzReport;
    expect(report.failures).toEqual([]);
    expect(report.connections).toBe(600);
    expect(Object.keys(report.byStage).sort()).toEqual(['authentication', 'before-startup', 'idle', 'mid-copy', 'mid-pipeline']);
    expect(report.controlFailures).toBe(0);
    expect(report.controlQueries).toBeGreaterThan(10);
    expect(report.violations).toBe(0);
    expect(report.heap.growthMB).toBeLessThan(20);
  }, 120_000);
});
