/**
 * vitest globalSetup: runs once in the main process around the whole test run.
 * It gives the workers a file to record skipped real-client suites in, and prints
 * the summary line at the end (see test/support/client-skips.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { formatClientSkips, readClientSkips } from './client-skips.js';

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'pgspec-vitest-run-'));
  const file = join(dir, 'client-skips.jsonl');
  project.provide('pgspecClientSkipFile', file);
  return () => {
    const summary = formatClientSkips(readClientSkips(file));
    if (summary !== '') process.stdout.write(`\n${summary}\n`);
    rmSync(dir, { recursive: true, force: true });
  };
}
