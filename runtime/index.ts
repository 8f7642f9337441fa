/** pgspec's server runtime: build a PostgreSQL-compatible server on the generated protocol tables. */
export { PgServer, type ServerOptions, type ListenerOptions, type ListeningAddress } from './server/server.js';
export { postgresProtocol, postgresHooks, type PostgresProtocolOptions } from './server/postgres-protocol.js';
export { PostgresWire } from './server/postgres-wire.js';
export {
  ProtocolRegistry,
  type WireProtocol,
  type ProtocolHooks,
  type SharedServices,
  type ProtocolConnection,
  type LoginRequest,
  type CancelKey,
  type FailedInput,
} from './server/protocol-registry.js';
export { Connection } from './server/connection.js';
export { SocketInput } from './server/socket-input.js';
export { CancelRegistry } from './server/cancel-registry.js';
export type { TlsOptions, TlsSettings } from './server/tls-settings.js';
export { StateMachine, StateViolation, buildStateTables, type Verdict, type ExtensionStateRule } from './protocol/state-machine.js';
export { ProtocolCodecs, BASE_CODECS, type ProtocolExtension, type AnyMessage } from './protocol/extension.js';
export { errorResponse, noticeResponse, readErrorFields, type ErrorInfo } from './protocol/error-fields.js';
export { EngineError, type Engine, type EngineSession, type SessionStart, type SessionEvents, type BackendSink, type MalformedMessage } from './engine.js';
export { TrivialEngine } from './engines/trivial/trivial-engine.js';
export { UserTable, parseUserSpec, type UserEntry, type AuthMethodName } from './auth/index.js';
export * from './engines/handlers/index.js';
export * as values from './values/index.js';
export { PgClientConnection } from './client/index.js';
export { PgliteEngine, type PgliteEngineOptions, type PgliteSession } from './engines/pglite/index.js';
export { ProxyEngine, type ProxyEngineOptions } from './engines/proxy/index.js';
export {
  ExtendProtocolData,
  withModifiedRelationsReport,
  pgliteExecutor,
  cloudberryExecutorProtocol,
  EXECUTOR_PROTOCOL,
} from './extend-protocol/index.js';
