/**
 * The Cloudberry executor on the embedded PGlite engine: around each Query and Execute of a session
 * that asked for 'e', the session reads the backend's tuple counters (BACKEND_TOTALS_SQL) with a
 * side query, in its own backend state and without its client seeing it, and holds the backend
 * from the first reading to the second, so that what another session does in between cannot show
 * up in the difference. Each reading is one extra call into PGlite that reads the counters of every
 * user table (measured under load: about +1 to 2 ms per statement with a few tables, 5 to 15 ms
 * per reading with a thousand); sessions that did not ask for 'e' pay nothing.
 */
import type { Engine } from '../engine.js';
import type { PgliteEngine } from '../engines/pglite/index.js';
import { withModifiedRelationsReport } from './executor.js';
import { BACKEND_TOTALS_SQL, xactStatsTracker } from './xact-stats.js';

export function pgliteExecutor(engine: PgliteEngine): Engine {
  return withModifiedRelationsReport(engine, {
    tracker: (session) => xactStatsTracker((sql, phase) => session.sideQuery(sql, { keepBackend: phase === 'before' }), BACKEND_TOTALS_SQL),
  });
}
