/** A typed PostgreSQL client over the generated codecs and state machine. */
export { PgClientConnection, type ExecuteOptions, type Parameter, type PreparedStatement } from './connection.js';
export { PgError, ClientProtocolError, ConnectionError } from './errors.js';
export type { ConnectOptions, TlsMode, ProtocolVersionName } from './options.js';
export type { ClientEvents, Notification, NoticeListener, NotificationListener } from './events.js';
export type { ResultSet, Field } from './results.js';
export type { AuthenticationMethod } from './authenticate.js';
export { TransactionBoundaries, type TransactionEnd } from './transaction-boundaries.js';
