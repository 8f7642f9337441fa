/**
 * Modified relations measured the way an embedded PostgreSQL can: the statistics system counts
 * the tuples inserted, updated and deleted per table, leaf partitions included (a partitioned
 * parent holds no tuples, so it never shows a change). The difference between counts read before
 * a command and after it names the relations the command modified. (An UPDATE that moves a row to
 * another partition counts, for PostgreSQL, as a delete from the old leaf and an insert into the
 * new one, and is reported so.)
 *
 * Two readings:
 *
 * - XACT_STATS_SQL, pg_stat_xact_user_tables: what this backend counted and has not yet sent to
 *   the shared statistics. Nothing is sent while a transaction is open, so inside one transaction
 *   the counts only grow; across a commit they may drop back to zero at any idle moment.
 * - BACKEND_TOTALS_SQL: the shared counts plus the pending ones. Sending moves counts from one to
 *   the other, so the sum only grows, across commits too. The shared counts are every backend's,
 *   though, so this suits a server with one backend: PGlite, where a session holds that backend
 *   from one reading to the next (so an autocommit statement, whose commit comes before the
 *   second reading can run, is measured too).
 */
import type { ModifiedRelationsReport } from './extend-protocol-data.js';
import type { ModifiedRelationsTracker } from './executor.js';

/** One row per user table. OIDs and counts as text: they can exceed 2^31. */
export const XACT_STATS_SQL =
  'SELECT relid::oid::text AS relid, n_tup_ins::text AS ins, n_tup_upd::text AS upd, n_tup_del::text AS del FROM pg_stat_xact_user_tables';

/** One row per ordinary user table (leaf partitions included) with any count; names qualified, whatever the search_path. */
export const BACKEND_TOTALS_SQL = `SELECT relid::text, ins::text, upd::text, del::text FROM (
  SELECT c.oid AS relid,
    pg_catalog.pg_stat_get_tuples_inserted(c.oid) + pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) AS ins,
    pg_catalog.pg_stat_get_tuples_updated(c.oid) + pg_catalog.pg_stat_get_xact_tuples_updated(c.oid) AS upd,
    pg_catalog.pg_stat_get_tuples_deleted(c.oid) + pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) AS del
  FROM pg_catalog.pg_class c
  WHERE c.relkind = 'r' AND c.relnamespace NOT IN ('pg_catalog'::pg_catalog.regnamespace, 'information_schema'::pg_catalog.regnamespace)
) t WHERE ins + upd + del > 0`;

export interface XactTableStats {
  readonly relid: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
}

/** Reads the text rows of XACT_STATS_SQL or BACKEND_TOTALS_SQL. */
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

/**
 * Runs SQL in the session's own backend state. `phase` says which reading it is, for an engine
 * that must hold its backend from the first to the second; undefined rows mean the reading could
 * not be taken (then nothing is reported).
 */
export type StatsQuery = (sql: string, phase: 'before' | 'after') => Promise<readonly (readonly (string | null)[])[] | undefined>;

/** A tracker over any way of running SQL in the session's own backend state; `sql` is the reading (XACT_STATS_SQL by default). */
export function xactStatsTracker(query: StatsQuery, sql = XACT_STATS_SQL): ModifiedRelationsTracker {
  let before: XactTableStats[] | undefined;
  return {
    async before() {
      const rows = await query(sql, 'before');
      before = rows && parseXactStats(rows);
    },
    async after() {
      const rows = await query(sql, 'after');
      const old = before;
      before = undefined;
      return old && rows ? diffXactStats(old, parseXactStats(rows)) : diffXactStats([], []);
    },
  };
}
