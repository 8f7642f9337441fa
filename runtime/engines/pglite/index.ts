/** The embedded PostgreSQL (PGlite) engine, the runtime's default. */
export { PgliteEngine, type PgliteEngineOptions } from './pglite-engine.js';
export type { PgliteSession } from './pglite-session.js';
export type { SideQueryOptions, SideQueryRows } from './side-query.js';
