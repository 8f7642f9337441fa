/**
 * Re-records the corpus from a throwaway PostgreSQL 15: runs every conversation and writes what
 * the server answered (normalized) into the `expect` of each step, in place, keeping comments.
 *
 *   npm run conformance:record                 # every file
 *   npm run conformance:record -- copy notify  # only corpus files whose name contains one of these
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { isMap, isSeq, type Document, type Node, type YAMLMap } from 'yaml';
import { loadCorpus, type Json, type JsonObject } from './corpus-format.js';
import { runConversation } from './run-conversation.js';
import { postgresTarget, startReferencePostgres } from './targets.js';

/** `$fn:<name>` references in a file: each is resolved to the function's OID on the recording server. */
function functionRefs(v: Json, out: Set<string>): Set<string> {
  if (typeof v === 'string') {
    const m = /^\$fn:(\w+)$/.exec(v);
    if (m) out.add(m[1]!);
  } else if (Array.isArray(v)) v.forEach((x) => functionRefs(x, out));
  else if (v !== null && typeof v === 'object') Object.values(v).forEach((x) => functionRefs(x, out));
  return out;
}

/** A list of messages, one per line in flow style. */
function messagesNode(doc: Document, messages: readonly JsonObject[]): Node {
  const node = doc.createNode(messages);
  if (isSeq(node)) {
    for (const item of node.items) if (isMap(item)) item.flow = true;
    if (node.items.length === 0) node.flow = true;
  }
  return node as Node;
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  const files = loadCorpus().filter((f) => filters.length === 0 || filters.some((x) => basename(f.path).includes(x)));
  const pg = await startReferencePostgres();
  try {
    const target = await postgresTarget(pg);
    let total = 0;
    for (const file of files) {
      const doc = file.document;
      const refs = [...functionRefs(doc.toJS({ maxAliasCount: -1 }) as Json, new Set())].sort();
      const resolved: Record<string, number> = {};
      for (const name of refs) {
        const out = await pg.admin(`select '${name}'::regproc::oid`);
        resolved[name] = Number(out.trim());
      }
      if (refs.length > 0) doc.set('resolved', doc.createNode(resolved));
      else doc.delete('resolved');

      const seq = doc.get('conversations');
      if (!isSeq(seq)) throw new Error(`${file.path}: no conversations`);
      for (const [i, conversation] of file.conversations.entries()) {
        const result = await runConversation(conversation, target, resolved);
        const node = seq.items[i] as YAMLMap;
        const startup = node.get('startup');
        if (isMap(startup)) {
          startup.flow = result.startup === undefined && startup.flow === true;
          if (result.startup) startup.set('expect', messagesNode(doc, result.startup));
          else startup.delete('expect');
        }
        const steps = node.get('steps');
        if (!isSeq(steps)) throw new Error(`${file.path}: "${conversation.name}" has no steps list`);
        result.steps.forEach((messages, j) => (steps.items[j] as YAMLMap).set('expect', messagesNode(doc, messages)));
        total++;
      }
      writeFileSync(file.path, doc.toString({ lineWidth: 0, flowCollectionPadding: false }));
      process.stdout.write(`${basename(file.path)}: ${file.conversations.length} conversations recorded\n`);
    }
    process.stdout.write(`recorded ${total} conversations from PostgreSQL 15\n`);
  } finally {
    await pg.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
