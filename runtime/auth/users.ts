/**
 * The user table: which authentication method each role uses (pg_hba.conf's job) and the secret
 * it is checked against (pg_authid.rolpassword's job). Plaintext passwords from configuration are
 * hashed on the way in and never kept.
 */
import { SecretFormatError } from './errors.js';
import { isMd5Secret, md5Secret } from './md5.js';
import { createScramVerifier, DEFAULT_SCRAM_ITERATIONS, parseScramVerifier, type ScramVerifier } from './scram.js';

export type AuthMethodName = 'trust' | 'password' | 'md5' | 'scram-sha-256';

export const AUTH_METHODS: readonly AuthMethodName[] = ['trust', 'password', 'md5', 'scram-sha-256'];

/** The name of the rule that applies to every user without a rule of their own. */
export const WILDCARD_USER = '*';

/** One configured rule. Give at most one of `password` (plaintext) and `secret` (pre-hashed). */
export interface UserEntry {
  /** Role name, or `*` for every role without its own entry. */
  readonly name: string;
  readonly method: AuthMethodName;
  /** Plaintext password; turned into a SCRAM verifier (and an md5 secret for method md5). */
  readonly password?: string;
  /** A pg_authid secret: `SCRAM-SHA-256$...` or `md5` + 32 hex digits. */
  readonly secret?: string;
}

/**
 * The exchange the server runs, following PostgreSQL: method md5 uses the md5 challenge only if the
 * stored secret is an md5 one, and SCRAM otherwise; method password asks for the cleartext.
 */
export type AuthExchange = 'trust' | 'cleartext' | 'md5' | 'scram-sha-256';

export interface UserAuth {
  readonly method: AuthMethodName;
  readonly exchange: AuthExchange;
  readonly scramVerifier?: ScramVerifier;
  readonly md5Secret?: string;
}

export interface UserTableOptions {
  /** Iterations for verifiers made from plaintext passwords (PostgreSQL's scram_iterations). */
  readonly scramIterations?: number;
}

function exchangeFor(method: AuthMethodName, md5: string | undefined): AuthExchange {
  switch (method) {
    case 'trust':
      return 'trust';
    case 'password':
      return 'cleartext';
    case 'md5':
      return md5 !== undefined ? 'md5' : 'scram-sha-256';
    case 'scram-sha-256':
      return 'scram-sha-256';
  }
}

function isMethod(s: string): s is AuthMethodName {
  return (AUTH_METHODS as readonly string[]).includes(s);
}

/**
 * Turns one configured entry into what `lookup` returns. Rejects combinations that could never
 * authenticate anyone, which PostgreSQL would only report at login time.
 */
function compile(entry: UserEntry, options: UserTableOptions): UserAuth {
  const who = entry.name === WILDCARD_USER ? 'the wildcard rule' : `user "${entry.name}"`;
  if (!isMethod(entry.method)) {
    throw new SecretFormatError(`${who}: unknown method "${String(entry.method)}" (expected one of ${AUTH_METHODS.join(', ')})`);
  }
  if (entry.password !== undefined && entry.secret !== undefined) {
    throw new SecretFormatError(`${who}: give either a password or a secret, not both`);
  }
  const method = entry.method;
  if (method === 'trust') {
    if (entry.password !== undefined || entry.secret !== undefined) {
      throw new SecretFormatError(`${who}: method trust takes no password`);
    }
    return { method, exchange: 'trust' };
  }

  let scramVerifier: ScramVerifier | undefined;
  let md5: string | undefined;
  if (entry.password !== undefined) {
    scramVerifier = parseScramVerifier(
      createScramVerifier(entry.password, { iterations: options.scramIterations ?? DEFAULT_SCRAM_ITERATIONS }),
    );
    // An md5 secret is salted with the user name, so a wildcard rule cannot have one; it runs
    // SCRAM instead, as PostgreSQL does for method md5 with a SCRAM secret.
    if (method === 'md5' && entry.name !== WILDCARD_USER) md5 = md5Secret(entry.name, entry.password);
  } else if (entry.secret !== undefined) {
    if (isMd5Secret(entry.secret)) {
      if (entry.name === WILDCARD_USER) {
        throw new SecretFormatError(`${who}: an md5 secret depends on the user name, so it cannot apply to every user`);
      }
      if (method === 'scram-sha-256') {
        throw new SecretFormatError(`${who}: method scram-sha-256 needs a SCRAM secret or a password, not an md5 secret`);
      }
      md5 = entry.secret;
    } else {
      scramVerifier = parseScramVerifier(entry.secret);
    }
  } else {
    throw new SecretFormatError(`${who}: method ${method} needs a password or a secret`);
  }
  return {
    method,
    exchange: exchangeFor(method, md5),
    ...(scramVerifier ? { scramVerifier } : {}),
    ...(md5 !== undefined ? { md5Secret: md5 } : {}),
  };
}

/**
 * Parses the CLI form `name:method[:password-or-secret]`, e.g. `alice:scram-sha-256:secret`,
 * `bob:trust`, `carol:md5:pw`, `*:trust`. Everything after the second ':' is the password, so
 * passwords (and SCRAM secrets) may contain ':'; user names may not. A value that is a valid
 * SCRAM or md5 secret is taken as pre-hashed, as PostgreSQL does for CREATE ROLE ... PASSWORD.
 */
export function parseUserSpec(spec: string): UserEntry {
  const first = spec.indexOf(':');
  if (first <= 0) throw new SecretFormatError(`invalid user spec "${spec}" (expected name:method[:password])`);
  const name = spec.slice(0, first);
  const second = spec.indexOf(':', first + 1);
  const method = second === -1 ? spec.slice(first + 1) : spec.slice(first + 1, second);
  if (!isMethod(method)) {
    throw new SecretFormatError(`invalid user spec for "${name}": unknown method "${method}" (expected one of ${AUTH_METHODS.join(', ')})`);
  }
  if (second === -1) return { name, method };
  const value = spec.slice(second + 1);
  const prehashed = isMd5Secret(value) || value.startsWith('SCRAM-SHA-256$');
  return prehashed ? { name, method, secret: value } : { name, method, password: value };
}

export class UserTable {
  /** Builds a table from CLI specs (see `parseUserSpec`). */
  static parse(specs: readonly string[], options: UserTableOptions = {}): UserTable {
    return new UserTable(specs.map(parseUserSpec), options);
  }

  private readonly users = new Map<string, UserAuth>();
  private readonly wildcard: UserAuth | undefined;

  constructor(entries: readonly UserEntry[], options: UserTableOptions = {}) {
    let wildcard: UserAuth | undefined;
    for (const entry of entries) {
      const seen = entry.name === WILDCARD_USER ? wildcard !== undefined : this.users.has(entry.name);
      if (seen) throw new SecretFormatError(`user "${entry.name}" is listed twice`);
      const auth = compile(entry, options);
      if (entry.name === WILDCARD_USER) wildcard = auth;
      else this.users.set(entry.name, auth);
    }
    this.wildcard = wildcard;
  }

  /**
   * How `user` authenticates: its own rule, else the wildcard rule, else undefined (PostgreSQL:
   * no pg_hba.conf entry, 28000). For a SCRAM exchange without a `scramVerifier`, run
   * `ScramServerSession.forUnknownUser` so the failure looks like a wrong password.
   */
  lookup(user: string): UserAuth | undefined {
    return this.users.get(user) ?? this.wildcard;
  }

  /** The configured role names (without the wildcard). */
  get names(): string[] {
    return [...this.users.keys()];
  }
}
