/**
 * Errors raised by the authentication primitives.
 *
 * An `AuthError` is what the runtime turns into a FATAL ErrorResponse: it carries the SQLSTATE
 * PostgreSQL uses for the same failure, PostgreSQL's primary message wording, and its DETAIL line
 * when PostgreSQL has one. `reason` is for code and tests, so they need not match on text.
 */

/** Why an exchange failed. Server-side reasons first, then reasons only a client raises. */
export type AuthErrorReason =
  /** A SCRAM message does not follow the RFC 5802 grammar (08P01). */
  | 'malformed-message'
  /** The SASL mechanism named by the client is not one the server offered (08P01). */
  | 'invalid-mechanism'
  /** The client sent GS2 flag `y` although the server offered -PLUS: a downgrade (28000). */
  | 'channel-binding-downgrade'
  /** GS2 `p=` named a channel-binding type other than tls-server-end-point (08P01). */
  | 'unsupported-channel-binding-type'
  /** The client-final `c=` is not the plain `n,,`/`y,,` header sent in the client-first (08P01). */
  | 'unexpected-channel-binding'
  /** The client-final `c=` does not carry this connection's certificate hash (28000). */
  | 'channel-binding-mismatch'
  /** The client asked for an authorization identity (`a=`), which PostgreSQL does not support (0A000). */
  | 'authzid-unsupported'
  /** The client requires a mandatory SCRAM extension (`m=`) (0A000). */
  | 'extension-unsupported'
  /** The client nonce contains characters outside printable ASCII (08P01). */
  | 'non-printable-nonce'
  /** The client-final nonce is not the combined nonce of this exchange (08P01). */
  | 'nonce-mismatch'
  /** Wrong password, unknown user, or no usable secret: indistinguishable by design (28P01). */
  | 'wrong-password'
  /** A session method was called out of order or after the exchange ended (08P01). */
  | 'out-of-order'
  /** Client side: none of the server's mechanisms can be used with the client's settings (28000). */
  | 'no-usable-mechanism'
  /** Client side: the server's nonce does not extend the client's nonce (08P01). */
  | 'server-nonce-mismatch'
  /** Client side: the server's iteration count exceeds the configured maximum (28000). */
  | 'iteration-count-too-high'
  /** Client side: the server's signature is wrong, so it does not know the password (28000). */
  | 'server-signature-mismatch'
  /** Client side: the server-final message carried `e=` (28000). */
  | 'server-error';

export class AuthError extends Error {
  constructor(
    /** SQLSTATE for the ErrorResponse `C` field. */
    readonly sqlstate: string,
    readonly reason: AuthErrorReason,
    /** Primary message, PostgreSQL's wording where it has one (ErrorResponse `M`). */
    message: string,
    /** Secondary detail (ErrorResponse `D`), if any. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/** A stored secret (SCRAM verifier or md5 hash) or a user-table entry is not well-formed. */
export class SecretFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretFormatError';
  }
}

/** SQLSTATEs used by authentication (PostgreSQL's errcodes.txt). */
export const SQLSTATE = {
  protocolViolation: '08P01',
  invalidAuthorizationSpecification: '28000',
  invalidPassword: '28P01',
  featureNotSupported: '0A000',
} as const;
