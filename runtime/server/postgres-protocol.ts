/**
 * PostgreSQL's protocol 3 (3.0 and 3.2) as a registered wire protocol: its hooks, each from the
 * module of its concern (startup, login, commands, reporting), optionally with protocol
 * extensions (generated delta bundles) that clients ask for with their `_pq_.` option. It goes
 * through the registry like any other protocol; a protocol that is protocol 3 with a difference
 * reuses these hooks and overrides some:
 *
 *     const quiet: WireProtocol<PostgresWire> = {
 *       name: 'quiet',
 *       hooks: { ...postgresHooks(), reportNotice: () => undefined },
 *     };
 */
import type { SessionStart } from '../engine.js';
import { ProtocolCodecs, type ProtocolExtension } from '../protocol/extension.js';
import type { Connection } from './connection.js';
import { commandLoop } from './postgres-commands.js';
import { authenticate } from './postgres-login.js';
import * as reporting from './postgres-reporting.js';
import { accept, startup } from './postgres-startup.js';
import type { PostgresWire } from './postgres-wire.js';
import type { ProtocolHooks, WireProtocol } from './protocol-registry.js';

export interface PostgresProtocolOptions {
  /** Registry name; defaults to "postgresql". */
  readonly name?: string;
  readonly extensions?: readonly ProtocolExtension[];
  /** Called after login with the extension options the client sent (e.g. to enable extra messages). */
  readonly onSessionStart?: (conn: Connection<PostgresWire>, claimedOptions: Readonly<Record<string, string>>) => void;
}

/** Protocol 3's hooks, for a protocol of this name with these extensions. */
export function postgresHooks(options: PostgresProtocolOptions = {}): ProtocolHooks<PostgresWire> {
  const extensions = options.extensions ?? [];
  const config = {
    name: options.name ?? 'postgresql',
    codecs: new ProtocolCodecs(extensions),
    claimableOptions: new Set(extensions.map((e) => e.option).filter((o): o is string => o !== undefined)),
  };
  const onSessionStart = options.onSessionStart;
  return {
    accept: accept(config),
    startup,
    authenticate,
    ...(onSessionStart ? { sessionOpened: (c: Connection<PostgresWire>, start: SessionStart) => onSessionStart(c, start.options ?? {}) } : {}),
    commandLoop,
    send: reporting.send,
    reportError: reporting.reportError,
    reportNotice: reporting.reportNotice,
    readyForQuery: reporting.readyForQuery,
    sendCancelKey: reporting.sendCancelKey,
    reportParameterStatus: reporting.reportParameterStatus,
    resetAfterError: reporting.resetAfterError,
    asyncMessage: reporting.asyncMessage,
    drained: reporting.drained,
    close: reporting.close,
  };
}

export function postgresProtocol(options: PostgresProtocolOptions = {}): WireProtocol<PostgresWire> {
  return { name: options.name ?? 'postgresql', hooks: postgresHooks(options) };
}
