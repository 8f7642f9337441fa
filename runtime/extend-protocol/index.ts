/** Cloudberry's 'e' extend protocol: the dispatcher's store and the executor's report. */
export {
  ExtendProtocolData,
  type DataSubtag,
  type ExtendProtocolWarning,
  type ExtendProtocolDataOptions,
  type ModifiedRelationsReport,
} from './extend-protocol-data.js';
export {
  withModifiedRelationsReport,
  modifiedRelationBlocks,
  type ModifiedRelationsTracker,
  type ModifiedRelationsReportOptions,
} from './executor.js';
export { XACT_STATS_SQL, diffXactStats, parseXactStats, xactStatsTracker, type XactTableStats } from './xact-stats.js';
