/**
 * Conversations where an engine does not yet answer as PostgreSQL 15 does, each with the reason.
 * The replay expects every listed one to differ (so a fix shows up as a stale entry) and every
 * other one to match.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const FILE = join(dirname(fileURLToPath(import.meta.url)), 'known-deviations.yaml');

/** Target key (pglite, proxy) -> "area / conversation name" -> why it differs. */
export function loadKnownDeviations(): Record<string, Map<string, string>> {
  const raw = (parse(readFileSync(FILE, 'utf8')) ?? {}) as Record<string, { name: string; why: string }[] | null>;
  const out: Record<string, Map<string, string>> = {};
  for (const [target, list] of Object.entries(raw)) out[target] = new Map((list ?? []).map((d) => [d.name, d.why]));
  return out;
}
