/**
 * Replays the recorded corpus against PostgreSQL 15 itself (a check that the recording and its
 * normalization are stable), against pgspec's runtime over the embedded PGlite engine, and over
 * the proxy engine in front of a PostgreSQL 15. Every conversation must match its recording, up
 * to the allowances it declares for the target's tags; the ones a target cannot run are listed
 * with their reason, and a count of replayed / total is printed per target.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresServer } from '../support/postgres-server.js';
import { loadCommonAllowances, loadCorpus, type Allowance, type Conversation, type JsonObject } from './corpus-format.js';
import { loadKnownDeviations } from './known-deviations.js';
import { applyAllowances } from './normalize.js';
import { runConversation } from './run-conversation.js';
import { pgliteTarget, postgresTarget, proxyTarget, startReferencePostgres, type Maybe, type Target } from './targets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** PGSPEC_CONFORMANCE_TARGETS=pglite,proxy limits the run to some targets (postgres, pglite, proxy). */
const only = process.env.PGSPEC_CONFORMANCE_TARGETS?.split(',').map((s) => s.trim());
const wanted = (key: string): boolean => only === undefined || only.includes(key);
const corpus = loadCorpus();
const common = loadCommonAllowances();
const total = corpus.reduce((n, f) => n + f.conversations.length, 0);

const deviations = loadKnownDeviations();

interface Tally {
  passed: number;
  /** Listed in known-deviations.yaml and still deviating, as expected. */
  known: string[];
  /** Conversations after which the engine had crashed and was started again. */
  restarts: string[];
  failed: string[];
  unsupported: string[];
  unavailable?: string;
}
const tallies = new Map<string, Tally>();

afterAll(() => {
  const lines = ['', `conformance corpus: ${total} conversations in ${corpus.length} files`];
  for (const [name, t] of tallies) {
    if (t.unavailable !== undefined) {
      lines.push(`  ${name}: not run (${t.unavailable})`);
      continue;
    }
    const replayed = t.passed + t.failed.length;
    lines.push(
      `  ${name}: replayed ${replayed + t.known.length}/${total}, passed ${t.passed}, known deviations ${t.known.length}, failed ${t.failed.length}, unsupported ${t.unsupported.length}`,
    );
    for (const k of t.known) lines.push(`    known deviation: ${k}`);
    for (const u of t.unsupported) lines.push(`    unsupported: ${u}`);
    for (const f of t.failed) lines.push(`    failed: ${f}`);
    for (const r of t.restarts) lines.push(`    engine crashed and was restarted after: ${r}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
});

/** One message per line, so a mismatch shows as a readable line diff. */
const lines = (messages: readonly JsonObject[]): string[] => messages.map((m) => JSON.stringify(m));

function allowancesFor(c: Conversation, tags: readonly string[]): Allowance[] {
  return tags.flatMap((t) => [...(common[t] ?? []), ...(c.differs?.[t] ? [c.differs[t]] : [])]);
}

function unsupportedReason(c: Conversation, tags: readonly string[]): string | undefined {
  for (const t of tags) if (c.unsupported?.[t]) return `${t}: ${c.unsupported[t]}`;
  return undefined;
}

async function check(target: Target, c: Conversation, resolved: Readonly<Record<string, number>>): Promise<void> {
  const allowances = allowancesFor(c, target.tags);
  const result = await runConversation(c, target, resolved);
  const startup = c.startup;
  if (startup !== 'none' && startup.record) {
    if (startup.expect === undefined) throw new Error(`"${c.name}" has no recorded startup: run npm run conformance:record`);
    const { expected, received } = applyAllowances('startup', startup.expect, result.startup ?? [], allowances);
    expect(lines(received), `${c.name}: startup`).toEqual(lines(expected));
  }
  c.steps.forEach((step, i) => {
    if (step.expect === undefined) throw new Error(`"${c.name}" step ${i} is not recorded: run npm run conformance:record`);
    const { expected, received } = applyAllowances(String(i), step.expect, result.steps[i] ?? [], allowances);
    expect(lines(received), `${c.name}: step ${i} (${JSON.stringify(step.send ?? [])})`).toEqual(lines(expected));
  });
}

function replaySuite(name: string, key: string, available: boolean, why: string, start: () => Promise<Maybe<Target>>): void {
  describe(name, () => {
    let target: Target | undefined;
    /** Set when the engine reported itself stopped (57P02): the next conversation gets a fresh one. */
    let crashed = false;
    const tally: Tally = { passed: 0, known: [], restarts: [], failed: [], unsupported: [] };
    const known = deviations[key] ?? new Map<string, string>();
    tallies.set(name, tally);
    if (!available) tally.unavailable = why;

    beforeAll(async () => {
      if (!available) return;
      const started = await start();
      if (started.ok) target = started.value;
      else tally.unavailable = started.reason;
    });
    afterAll(async () => {
      await target?.close();
    });

    for (const file of corpus) {
      describe(file.area, () => {
        for (const c of file.conversations) {
          it.skipIf(!available)(c.name, async (ctx) => {
            if (crashed && target !== undefined) {
              crashed = false;
              await target.close().catch(() => undefined);
              const again = await start();
              target = again.ok ? again.value : undefined;
            }
            if (target === undefined) {
              ctx.skip();
              return;
            }
            const reason = unsupportedReason(c, target.tags);
            if (reason !== undefined) {
              tally.unsupported.push(`${file.area} / ${c.name} (${reason})`);
              ctx.skip();
              return;
            }
            const id = `${file.area} / ${c.name}`;
            const deviation = known.get(id);
            if (deviation !== undefined) {
              // Listed as not yet matching PostgreSQL: it must still differ, or the list is stale.
              let matched = true;
              try {
                await check(target, c, file.resolved);
              } catch {
                matched = false;
              }
              if (matched) throw new Error(`"${id}" now matches PostgreSQL on ${key}: remove it from test/conformance/known-deviations.yaml`);
              tally.known.push(`${id} (${deviation})`);
              return;
            }
            try {
              await check(target, c, file.resolved);
              tally.passed++;
            } catch (err) {
              const message = (err as Error).message;
              tally.failed.push(`${file.area} / ${c.name}: ${(message.split('\n')[0] ?? '').slice(0, 160)}`);
              if (message.includes('"C":"57P02"')) {
                crashed = true;
                tally.restarts.push(`${file.area} / ${c.name}`);
              }
              throw err;
            }
          });
        }
      });
    }
  });
}

let reference: PostgresServer | undefined;
afterAll(async () => {
  await reference?.stop();
});

replaySuite('postgres-15 (the recording server itself)', 'postgres', wanted('postgres'), 'not selected by PGSPEC_CONFORMANCE_TARGETS', async () => {
  reference = await startReferencePostgres();
  return { ok: true, value: await postgresTarget(reference) };
});

replaySuite(
  'pgspec + pglite engine',
  'pglite',
  wanted('pglite') && existsSync(join(ROOT, 'runtime/engines/pglite/index.ts')),
  wanted('pglite') ? 'runtime/engines/pglite/index.ts does not exist' : 'not selected by PGSPEC_CONFORMANCE_TARGETS',
  pgliteTarget,
);

replaySuite(
  'pgspec + proxy engine',
  'proxy',
  wanted('proxy') && existsSync(join(ROOT, 'runtime/engines/proxy/index.ts')),
  wanted('proxy') ? 'runtime/engines/proxy/index.ts does not exist' : 'not selected by PGSPEC_CONFORMANCE_TARGETS',
  async () => {
    const r = await proxyTarget();
    return r.ok ? { ok: true, value: r.value.target } : r;
  },
);
