/**
 * Authentication exchanges as plug-ins: trust, cleartext password, md5, SCRAM-SHA-256 and
 * SCRAM-SHA-256-PLUS (tls-server-end-point), chosen per user from the UserTable as pg_hba does.
 * Each exchange only sends messages and awaits the client's answers; the connection's state
 * machine decides how the answers are decoded.
 */
import { randomBytes } from 'node:crypto';
import type { BackendMessage, FrontendMessage } from '../../generated/index.js';
import {
  ScramServerSession,
  verifyCleartextPassword,
  verifyMd5Response,
  type AuthError,
  type ScramVerifier,
  type UserTable,
} from '../auth/index.js';
import { stateError, type ErrorInfo } from '../protocol/error-fields.js';

export interface AuthIO {
  send(m: BackendMessage): void;
  /** The client's next message (decoded as the current state expects). */
  read(): Promise<FrontendMessage | undefined>;
  /** tls-server-end-point hash of the server certificate, when on TLS and computable. */
  readonly channelBinding: Buffer | undefined;
}

/** A per-server secret that makes failed lookups indistinguishable from wrong passwords. */
const MOCK_SECRET = randomBytes(32);

/**
 * How an exchange ended. A failure without an error is a client that gave no answer: it left, or
 * its message was refused by the state machine, which has answered it already.
 */
export type AuthOutcome = { ok: true } | { ok: false; error: ErrorInfo | undefined };

const NO_ANSWER: AuthOutcome = { ok: false, error: undefined };

const failed = (user: string): AuthOutcome => ({
  ok: false,
  error: { severity: 'FATAL', code: '28P01', message: `password authentication failed for user "${user}"` },
});

const fromAuthError = (e: AuthError): AuthOutcome => ({
  ok: false,
  error: { severity: 'FATAL', code: e.sqlstate, message: e.message, ...(e.detail ? { detail: e.detail } : {}) },
});

export async function authenticate(user: string, users: UserTable, io: AuthIO): Promise<AuthOutcome> {
  const entry = users.lookup(user);
  if (entry === undefined) {
    return { ok: false, error: { severity: 'FATAL', code: '28000', message: `no pg_hba.conf entry for user "${user}"` } };
  }
  switch (entry.exchange) {
    case 'trust':
      return { ok: true };
    case 'cleartext': {
      io.send({ type: 'AuthenticationCleartextPassword' });
      const m = await readPassword(io);
      if (typeof m !== 'string') return m;
      const stored = entry.scramVerifier ?? entry.md5Secret;
      return stored !== undefined && verifyCleartextPassword(user, m, stored) ? { ok: true } : failed(user);
    }
    case 'md5': {
      const salt = randomBytes(4);
      io.send({ type: 'AuthenticationMD5Password', salt });
      const m = await readPassword(io);
      if (typeof m !== 'string') return m;
      return entry.md5Secret !== undefined && verifyMd5Response(entry.md5Secret, salt, m) ? { ok: true } : failed(user);
    }
    case 'scram-sha-256':
      return scram(user, entry.scramVerifier, io);
  }
}

/**
 * The client's PasswordMessage, as PostgreSQL's recv_password_packet takes it: an empty password
 * is refused before any check, since a client that sends one has nothing to offer (libpq never
 * sends it; a server checking passwords elsewhere, e.g. LDAP, could take it as valid).
 */
async function readPassword(io: AuthIO): Promise<string | AuthOutcome> {
  const m = await io.read();
  if (m?.type !== 'PasswordMessage') return NO_ANSWER;
  if (m.password === '') return { ok: false, error: stateError('emptyPassword') };
  return m.password;
}

async function scram(user: string, verifier: ScramVerifier | undefined, io: AuthIO): Promise<AuthOutcome> {
  const options = io.channelBinding ? { channelBinding: io.channelBinding } : {};
  const session = verifier ? new ScramServerSession(verifier, user, options) : ScramServerSession.forUnknownUser(user, MOCK_SECRET, options);
  io.send({ type: 'AuthenticationSASL', mechanisms: ScramServerSession.mechanisms(io.channelBinding !== undefined) });
  const initial = await io.read();
  if (initial?.type !== 'SASLInitialResponse') return NO_ANSWER;
  let clientFirst = initial.data;
  if (clientFirst === null) {
    // No initial response: ask for it with an empty challenge, as PostgreSQL does.
    io.send({ type: 'AuthenticationSASLContinue', data: new Uint8Array(0) });
    const next = await io.read();
    if (next?.type !== 'SASLResponse') return NO_ANSWER;
    clientFirst = next.data;
  }
  const first = session.handleClientFirst(initial.mechanism, Buffer.from(clientFirst));
  if (!first.ok) return fromAuthError(first.error);
  io.send({ type: 'AuthenticationSASLContinue', data: first.serverFirst });
  const final = await io.read();
  if (final?.type !== 'SASLResponse') return NO_ANSWER;
  const last = session.handleClientFinal(Buffer.from(final.data));
  if (!last.ok) return fromAuthError(last.error);
  io.send({ type: 'AuthenticationSASLFinal', data: last.serverFinal });
  return { ok: true };
}
