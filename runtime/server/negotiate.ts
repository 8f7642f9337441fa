/**
 * Reading a StartupMessage the way PostgreSQL does: the major version must match; a newer minor
 * version or unknown `_pq_.` options are answered with NegotiateProtocolVersion naming the newest
 * version and every option nobody claimed, and the session continues with what the server has.
 */
import {
  EXTENSION_OPTION_PREFIX,
  PROTOCOL_MAJOR,
  PROTOCOL_VERSIONS,
  type NegotiateProtocolVersion,
  type StartupMessage,
} from '../../generated/index.js';
import { stateError, type ErrorInfo } from '../protocol/error-fields.js';

export interface StartupRequest {
  readonly protocolVersion: number;
  readonly user: string;
  readonly database: string;
  /** Every parameter but user, database and `_pq_.` options. */
  readonly parameters: Record<string, string>;
  /** `_pq_.` options a registered extension claimed, with their values. */
  readonly claimedOptions: Record<string, string>;
  readonly negotiate: NegotiateProtocolVersion | undefined;
}

export function negotiateStartup(m: StartupMessage, claimable: ReadonlySet<string>): { ok: StartupRequest } | { error: ErrorInfo } {
  const requested = m.protocolVersion >>> 0;
  if (requested >>> 16 !== PROTOCOL_MAJOR) return { error: stateError('unsupportedRequest', { protocolCode: requested }) };
  // The newest version the server has that is not newer than the request (3.1 was never used: it is 3.0).
  let version: number = PROTOCOL_VERSIONS[0].code;
  for (const v of PROTOCOL_VERSIONS) if (v.code <= requested) version = v.code;
  const parameters: Record<string, string> = {};
  const claimedOptions: Record<string, string> = {};
  const unrecognized: string[] = [];
  let user: string | undefined;
  let database: string | undefined;
  for (const { name, value } of m.parameters) {
    if (name === 'user') user = value;
    else if (name === 'database') database = value;
    else if (name.startsWith(EXTENSION_OPTION_PREFIX)) {
      if (claimable.has(name)) claimedOptions[name] = value;
      else unrecognized.push(name);
    } else parameters[name] = value;
  }
  if (user === undefined || user === '') {
    return { error: stateError('noUserName') };
  }
  const negotiate: NegotiateProtocolVersion | undefined =
    version !== requested || unrecognized.length > 0 ? { type: 'NegotiateProtocolVersion', newestVersion: version, unrecognizedOptions: unrecognized } : undefined;
  return { ok: { protocolVersion: version, user, database: database || user, parameters, claimedOptions, negotiate } };
}
