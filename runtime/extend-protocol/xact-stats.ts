/**
 * Modified relations measured the way an embedded PostgreSQL can: pg_stat_xact_user_tables counts
 * the tuples the current transaction inserted, updated and deleted per relation, leaf partitions
 * included (a partitioned parent holds no tuples, so it never shows a change). The difference
 * between a snapshot taken before a command and one after it names the relations the command
 * modified.
 *
 * The view counts the *current* transaction only, so both snapshots must run inside the command's
 * transaction: an engine whose statement commits on its own (autocommit) must take the second
 * snapshot before that commit, e.g. by running the statement inside a transaction it opens itself.
 */
import type { ModifiedRelationsReport } from './extend-protocol-data.js';
import type { ModifiedRelationsTracker } from './executor.js';

/** One row per user table the current transaction touched. OIDs as text: they can exceed 2^31. */
export const XACT_STATS_SQL =
  'SELECT relid::oid::text AS relid, n_tup_ins::text AS ins, n_tup_upd::text AS upd, n_tup_del::text AS del FROM pg_stat_xact_user_tables';

export interface XactTableStats {
  readonly relid: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
}

/** Reads XACT_STATS_SQL's text rows. */
export function parseXactStats(rows: readonly (readonly (string | null)[])[]): XactTableStats[] {
  return rows.map(([relid, ins, upd, del]) => ({ relid: Number(relid), inserted: Number(ins ?? 0), updated: Number(upd ?? 0), deleted: Number(del ?? 0) }));
}

/** The relations whose counters grew from `before` to `after`, each list in ascending OID order. */
export function diffXactStats(before: readonly XactTableStats[], after: readonly XactTableStats[]): ModifiedRelationsReport {
  const old = new Map(before.map((s) => [s.relid, s]));
  const report = { inserted: [] as number[], updated: [] as number[], deleted: [] as number[] };
  for (const s of [...after].sort((a, b) => a.relid - b.relid)) {
    const o = old.get(s.relid);
    if (s.inserted > (o?.inserted ?? 0)) report.inserted.push(s.relid);
    if (s.updated > (o?.updated ?? 0)) report.updated.push(s.relid);
    if (s.deleted > (o?.deleted ?? 0)) report.deleted.push(s.relid);
  }
  return report;
}

/** A tracker over any way of running SQL in the session's own transaction. */
export function xactStatsTracker(query: (sql: string) => Promise<readonly (readonly (string | null)[])[]>): ModifiedRelationsTracker {
  let before: XactTableStats[] = [];
  return {
    async before() {
      before = parseXactStats(await query(XACT_STATS_SQL));
    },
    async after() {
      return diffXactStats(before, parseXactStats(await query(XACT_STATS_SQL)));
    },
  };
}
