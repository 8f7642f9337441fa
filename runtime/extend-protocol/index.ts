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
  type EngineOf,
  type ModifiedRelationsTracker,
  type ModifiedRelationsReportOptions,
} from './executor.js';
export {
  BACKEND_TOTALS_SQL,
  XACT_STATS_SQL,
  diffXactStats,
  parseXactStats,
  xactStatsTracker,
  type StatsQuery,
  type XactTableStats,
} from './xact-stats.js';
export { pgliteExecutor } from './pglite-executor.js';
export { EXECUTOR_PROTOCOL, cloudberryExecutorProtocol } from './executor-protocol.js';
