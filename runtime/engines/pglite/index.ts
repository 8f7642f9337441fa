/** The embedded PostgreSQL (PGlite) engine, the runtime's default. */
export { PgliteEngine, type PgliteEngineOptions } from './pglite-engine.js';
