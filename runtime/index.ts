/** pgspec's server runtime: build a PostgreSQL-compatible server on the generated protocol tables. */
export { PgServer, type ServerOptions, type ListenerOptions, type ListeningAddress } from './server/server.js';
export { postgresProtocol, type PostgresProtocolOptions } from './server/postgres-protocol.js';
export { ProtocolRegistry, type WireProtocol, type SharedServices, type ProtocolConnection } from './server/protocol-registry.js';
export { ServerConnection, type ConnectionContext, type TlsSettings } from './server/connection.js';
export { CancelRegistry } from './server/cancel-registry.js';
export type { TlsOptions } from './server/tls-settings.js';
export { StateMachine, StateViolation, buildStateTables, type Verdict, type ExtensionStateRule } from './protocol/state-machine.js';
export { ProtocolCodecs, BASE_CODECS, type ProtocolExtension, type AnyMessage } from './protocol/extension.js';
export { errorResponse, noticeResponse, readErrorFields, type ErrorInfo } from './protocol/error-fields.js';
export { EngineError, type Engine, type EngineSession, type SessionStart, type SessionEvents, type BackendSink } from './engine.js';
export { TrivialEngine } from './engines/trivial/trivial-engine.js';
export { UserTable, parseUserSpec, type UserEntry, type AuthMethodName } from './auth/index.js';
export * from './engines/handlers/index.js';
export * as values from './values/index.js';
export { PgClientConnection } from './client/index.js';
export { ExtendProtocolData, withModifiedRelationsReport } from './extend-protocol/index.js';
