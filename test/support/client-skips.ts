/**
 * Records real-client suites that were skipped because the client is missing,
 * so the run can end with one visible line instead of silent skips.
 *
 * Test files run in forked workers, so each skip is appended (one JSON line) to a
 * file that the global setup (test/support/global-setup.ts) creates for this run
 * and hands to the workers through vitest's provide/inject; its teardown prints the
 * summary.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    pgspecClientSkipFile: string;
  }
}

export interface ClientSkip {
  client: string;
  install: string;
  suite: string;
}

export function recordClientSkip(skip: ClientSkip): void {
  let file: string | undefined;
  try {
    file = inject('pgspecClientSkipFile');
  } catch {
    // Not inside a vitest worker (or no global setup): nothing to report to.
  }
  if (file) appendFileSync(file, `${JSON.stringify(skip)}\n`);
}

export function readClientSkips(file: string): ClientSkip[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ClientSkip);
}

/** `real clients skipped: pgjdbc (install: …), pgx (install: …)`, or '' when nothing was skipped. */
export function formatClientSkips(skips: readonly ClientSkip[]): string {
  const byClient = new Map<string, { install: string; suites: Set<string> }>();
  for (const skip of skips) {
    const entry = byClient.get(skip.client) ?? { install: skip.install, suites: new Set<string>() };
    entry.suites.add(skip.suite);
    byClient.set(skip.client, entry);
  }
  if (byClient.size === 0) return '';
  const parts = [...byClient.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([client, { install, suites }]) => {
      const count = suites.size === 1 ? '1 suite' : `${suites.size} suites`;
      return `${client} (${count}; install: ${install})`;
    });
  return `real clients skipped: ${parts.join(', ')}`;
}
