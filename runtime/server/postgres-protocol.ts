/**
 * PostgreSQL's protocol 3 (3.0 and 3.2) as a registered wire protocol, optionally with protocol
 * extensions (generated delta bundles) that clients ask for with their `_pq_.` option.
 */
import type { Socket } from 'node:net';
import { ProtocolCodecs, type ProtocolExtension } from '../protocol/extension.js';
import { ServerConnection } from './connection.js';
import type { ProtocolConnection, SharedServices, WireProtocol } from './protocol-registry.js';

export interface PostgresProtocolOptions {
  /** Registry name; defaults to "postgresql". */
  readonly name?: string;
  readonly extensions?: readonly ProtocolExtension[];
  /** Called after login with the extension options the client sent (e.g. to enable extra messages). */
  readonly onSessionStart?: (conn: ServerConnection, claimedOptions: Readonly<Record<string, string>>) => void;
}

export function postgresProtocol(options: PostgresProtocolOptions = {}): WireProtocol {
  const name = options.name ?? 'postgresql';
  const codecs = new ProtocolCodecs(options.extensions ?? []);
  const claimableOptions = new Set((options.extensions ?? []).map((e) => e.option).filter((o): o is string => o !== undefined));
  return {
    name,
    accept(socket: Socket, services: SharedServices): ProtocolConnection {
      return new ServerConnection(socket, {
        codecs,
        engine: services.engine,
        users: services.users,
        cancels: services.cancels,
        tls: services.tls,
        claimableOptions,
        startupTimeoutMs: services.startupTimeoutMs,
        ...(services.sessionSlots ? { sessionSlots: services.sessionSlots } : {}),
        onViolation: (violation, message) =>
          services.reportViolation({ protocol: name, state: violation.state, message: message.type, detail: violation.message }),
        ...(options.onSessionStart ? { onSessionStart: options.onSessionStart } : {}),
      });
    },
  };
}
