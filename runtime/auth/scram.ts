/**
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) as PostgreSQL implements them:
 * the stored verifier, the server side of the exchange (including the mock exchange for unknown
 * users), and the client side.
 *
 * Everything here works on SASL payloads only: the bytes inside SASLInitialResponse, SASLResponse,
 * AuthenticationSASLContinue and AuthenticationSASLFinal. Message framing lives in the spec.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthError, SecretFormatError, SQLSTATE } from './errors.js';
import { scramPasswordBytes } from './saslprep.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
export type ScramMechanism = typeof SCRAM_SHA_256 | typeof SCRAM_SHA_256_PLUS;

/** PostgreSQL's default `scram_iterations`. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
/** PostgreSQL's SCRAM_DEFAULT_SALT_LEN. */
const SALT_LENGTH = 16;
/** PostgreSQL's SCRAM_RAW_NONCE_LEN: random bytes per nonce, before base64. */
const RAW_NONCE_LENGTH = 18;
/** SHA-256 output length: every key, signature and proof. */
const KEY_LENGTH = 32;
/** The only channel-binding type PostgreSQL supports. */
const CBIND_TYPE = 'tls-server-end-point';

/** A parsed pg_authid SCRAM secret. */
export interface ScramVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

// ---------------------------------------------------------------------------------------------
// Key derivation and the verifier format
// ---------------------------------------------------------------------------------------------

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** SaltedPassword = Hi(SASLprep(password), salt, i), where Hi is PBKDF2-HMAC-SHA-256. */
export function scramSaltedPassword(password: string | Buffer, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(scramPasswordBytes(password), salt, iterations, KEY_LENGTH, 'sha256');
}

/** The StoredKey and ServerKey a verifier keeps, from a SaltedPassword. */
export function scramKeys(saltedPassword: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  return {
    storedKey: sha256(hmac(saltedPassword, 'Client Key')),
    serverKey: hmac(saltedPassword, 'Server Key'),
  };
}

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, all binary parts base64. */
export function formatScramVerifier(v: ScramVerifier): string {
  return (
    `${SCRAM_SHA_256}$${v.iterations}:${v.salt.toString('base64')}` +
    `$${v.storedKey.toString('base64')}:${v.serverKey.toString('base64')}`
  );
}

/**
 * Builds the secret PostgreSQL would store in pg_authid.rolpassword for `password`. With the same
 * salt and iteration count the result is byte-identical to PostgreSQL's.
 */
export function createScramVerifier(
  password: string | Buffer,
  options: { iterations?: number; salt?: Buffer } = {},
): string {
  const iterations = options.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('iterations must be a positive integer');
  const salt = options.salt ?? randomBytes(SALT_LENGTH);
  const keys = scramKeys(scramSaltedPassword(password, salt, iterations));
  return formatScramVerifier({ iterations, salt, ...keys });
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical base64 (RFC 4648 alphabet, padded); undefined if `s` is anything else. */
function decodeBase64(s: string): Buffer | undefined {
  return BASE64.test(s) ? Buffer.from(s, 'base64') : undefined;
}

/** Parses a pg_authid SCRAM secret. Throws `SecretFormatError` if `s` is not one. */
export function parseScramVerifier(s: string): ScramVerifier {
  const m = /^SCRAM-SHA-256\$([0-9]+):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(s);
  if (!m) throw new SecretFormatError('not a SCRAM-SHA-256 secret (expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)');
  const iterations = Number(m[1]);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 0x7fffffff) {
    throw new SecretFormatError(`invalid SCRAM iteration count "${m[1]}"`);
  }
  const salt = decodeBase64(m[2]!);
  const storedKey = decodeBase64(m[3]!);
  const serverKey = decodeBase64(m[4]!);
  if (!salt || salt.length === 0) throw new SecretFormatError('invalid SCRAM salt (not base64)');
  if (!storedKey || storedKey.length !== KEY_LENGTH) throw new SecretFormatError('invalid SCRAM StoredKey');
  if (!serverKey || serverKey.length !== KEY_LENGTH) throw new SecretFormatError('invalid SCRAM ServerKey');
  return { iterations, salt, storedKey, serverKey };
}

/** Whether `s` is a well-formed SCRAM-SHA-256 secret. */
export function isScramVerifier(s: string): boolean {
  try {
    parseScramVerifier(s);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Message parsing shared by both sides
// ---------------------------------------------------------------------------------------------

/** How PostgreSQL quotes one offending character in an error detail. */
function sanitizeChar(c: string | undefined): string {
  if (c === undefined) return '0x00';
  const code = c.charCodeAt(0);
  return code >= 0x21 && code <= 0x7e ? `'${c}'` : `0x${code.toString(16).padStart(2, '0')}`;
}

/** How PostgreSQL quotes an offending string: non-printables become '?', at most 30 characters. */
function sanitizeString(s: string): string {
  let out = '';
  for (const c of s.slice(0, 30)) {
    const code = c.charCodeAt(0);
    out += code >= 0x21 && code <= 0x7e ? c : '?';
  }
  return out;
}

/** printable = %x21-2B / %x2D-7E (RFC 5802: printable ASCII except ','). */
function isPrintable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x2c) return false;
  }
  return true;
}

type ErrorFactory = (detail: string) => AuthError;

/**
 * A cursor over one SCRAM message, decoded as latin1 so that characters and bytes correspond and
 * slices can be turned back into the exact bytes the peer sent.
 */
class AttrReader {
  pos = 0;
  constructor(
    readonly text: string,
    private readonly malformed: ErrorFactory,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  /** Reads `<attr>=<value>` up to the next ',' (consumed) or the end. */
  value(attr: string): string {
    const found = this.peek();
    if (found !== attr) throw this.malformed(`Expected attribute "${attr}" but found "${sanitizeChar(found)}".`);
    return this.afterName(attr);
  }

  /** Reads any `<letter>=<value>` attribute. */
  any(): [attr: string, value: string] {
    const attr = this.peek();
    if (attr === undefined) throw this.malformed('Attribute expected, but found end of string.');
    if (!/^[A-Za-z]$/.test(attr)) {
      throw this.malformed(`Attribute expected, but found invalid character "${sanitizeChar(attr)}".`);
    }
    return [attr, this.afterName(attr)];
  }

  private afterName(attr: string): string {
    this.pos++;
    if (this.peek() !== '=') throw this.malformed(`Expected character "=" for attribute "${attr}".`);
    this.pos++;
    const comma = this.text.indexOf(',', this.pos);
    const end = comma === -1 ? this.text.length : comma;
    const value = this.text.slice(this.pos, end);
    this.pos = comma === -1 ? end : comma + 1;
    return value;
  }
}

function serverMalformed(detail: string): AuthError {
  return new AuthError(SQLSTATE.protocolViolation, 'malformed-message', 'malformed SCRAM message', detail);
}

/** PostgreSQL's checks on a raw SASL payload before parsing: not empty, no embedded NUL. */
function payloadText(payload: Buffer, malformed: ErrorFactory): string {
  if (payload.length === 0) throw malformed('The message is empty.');
  if (payload.includes(0)) throw malformed('Message length does not match input length.');
  return payload.toString('latin1');
}

// ---------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------

export type ScramStepResult<K extends string> =
  | ({ ok: true } & { [P in K]: Buffer })
  | { ok: false; error: AuthError };

export interface ScramServerOptions {
  /**
   * The `tls-server-end-point` hash of this server's certificate (see `tlsServerEndPointHash`),
   * given when the connection runs over TLS and the hash can be computed. Its presence means the
   * server offers SCRAM-SHA-256-PLUS, which also makes a client's GS2 flag `y` a downgrade.
   */
  readonly channelBinding?: Buffer;
}

type ServerState =
  | { step: 'awaiting-client-first' }
  | {
      step: 'awaiting-client-final';
      cbindFlag: 'n' | 'y' | 'p';
      clientFirstBare: string;
      serverFirst: string;
      nonce: string;
    }
  | { step: 'done' };

/**
 * The server half of one SCRAM exchange. Call `handleClientFirst` with the SASLInitialResponse
 * payload, send back the returned bytes in AuthenticationSASLContinue, then call
 * `handleClientFinal` with the SASLResponse payload and send the returned bytes in
 * AuthenticationSASLFinal. Neither method throws on bad client input: failures come back as
 * `{ ok: false, error }`, and after one the session is finished.
 */
export class ScramServerSession {
  /** The SASL mechanisms to advertise in AuthenticationSASL, in PostgreSQL's order. */
  static mechanisms(channelBindingAvailable: boolean): ScramMechanism[] {
    return channelBindingAvailable ? [SCRAM_SHA_256_PLUS, SCRAM_SHA_256] : [SCRAM_SHA_256];
  }

  /**
   * A session that runs a complete, plausible exchange and then fails with the same error as a
   * wrong password, for a user that does not exist or has no SCRAM secret. Like PostgreSQL, the
   * salt is the first 16 bytes of SHA-256(user name || serverSecret), so it is stable per user and
   * cannot be told apart from a real one. `serverSecret` should be random, per server, and kept
   * for the server's lifetime (PostgreSQL uses its 32-byte mock_authentication_nonce).
   */
  static forUnknownUser(
    user: string,
    serverSecret: Buffer,
    options: ScramServerOptions & { iterations?: number } = {},
  ): ScramServerSession {
    const salt = createHash('sha256').update(user, 'utf8').update(serverSecret).digest().subarray(0, SALT_LENGTH);
    const verifier: ScramVerifier = {
      iterations: options.iterations ?? DEFAULT_SCRAM_ITERATIONS,
      salt,
      storedKey: Buffer.alloc(KEY_LENGTH),
      serverKey: Buffer.alloc(KEY_LENGTH),
    };
    return new ScramServerSession(verifier, user, options, true);
  }

  private readonly verifier: ScramVerifier;
  private state: ServerState = { step: 'awaiting-client-first' };

  constructor(
    verifier: ScramVerifier | string,
    /** The role being authenticated (from the StartupMessage; SCRAM's own `n=` is ignored). */
    readonly user: string,
    private readonly options: ScramServerOptions = {},
    private readonly doomed = false,
  ) {
    this.verifier = typeof verifier === 'string' ? parseScramVerifier(verifier) : verifier;
  }

  /** Whether the exchange is over (succeeded or failed). */
  get finished(): boolean {
    return this.state.step === 'done';
  }

  /** Takes the mechanism and payload of SASLInitialResponse; returns the server-first-message. */
  handleClientFirst(mechanism: string, clientFirstMessage: Buffer): ScramStepResult<'serverFirst'> {
    try {
      if (this.state.step !== 'awaiting-client-first') throw outOfOrder('client-first-message');
      this.state = { step: 'done' };
      const cbindInUse = this.selectMechanism(mechanism);
      const r = new AttrReader(payloadText(clientFirstMessage, serverMalformed), serverMalformed);
      const cbindFlag = this.readGs2Header(r, cbindInUse);
      const clientFirstBare = r.text.slice(r.pos);
      if (r.peek() === 'm') {
        throw new AuthError(SQLSTATE.featureNotSupported, 'extension-unsupported', 'client requires an unsupported SCRAM extension');
      }
      r.value('n'); // the user name inside SCRAM is ignored; the StartupMessage's counts
      const clientNonce = r.value('r');
      if (!isPrintable(clientNonce)) {
        throw new AuthError(SQLSTATE.protocolViolation, 'non-printable-nonce', 'non-printable characters in SCRAM nonce');
      }
      while (!r.atEnd) r.any(); // optional extensions: none supported, all ignored

      const nonce = clientNonce + randomBytes(RAW_NONCE_LENGTH).toString('base64');
      const serverFirst = `r=${nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
      this.state = { step: 'awaiting-client-final', cbindFlag, clientFirstBare, serverFirst, nonce };
      return { ok: true, serverFirst: Buffer.from(serverFirst, 'latin1') };
    } catch (error) {
      return fail(error);
    }
  }

  /** Takes the SASLResponse payload; on success returns the server-final-message. */
  handleClientFinal(clientFinal: Buffer): ScramStepResult<'serverFinal'> {
    try {
      const state = this.state;
      if (state.step !== 'awaiting-client-final') throw outOfOrder('client-final-message');
      this.state = { step: 'done' };
      const r = new AttrReader(payloadText(clientFinal, serverMalformed), serverMalformed);

      const cbind = r.value('c');
      if (state.cbindFlag === 'p') {
        const expected = Buffer.concat([Buffer.from(`p=${CBIND_TYPE},,`), this.options.channelBinding!]).toString('base64');
        if (cbind !== expected) {
          throw new AuthError(SQLSTATE.invalidAuthorizationSpecification, 'channel-binding-mismatch', 'SCRAM channel binding check failed');
        }
      } else if (cbind !== (state.cbindFlag === 'n' ? 'biws' : 'eSws')) {
        // biws = base64("n,,"), eSws = base64("y,,"): the header must repeat the client-first's.
        throw new AuthError(
          SQLSTATE.protocolViolation,
          'unexpected-channel-binding',
          'unexpected SCRAM channel-binding attribute in client-final-message',
        );
      }
      const finalNonce = r.value('r');
      let proofAt: number;
      let attr: string;
      let proofText: string;
      do {
        proofAt = r.pos - 1; // the ',' before the attribute
        [attr, proofText] = r.any();
      } while (attr !== 'p');
      const proof = decodeBase64(proofText);
      if (!proof || proof.length !== KEY_LENGTH) throw serverMalformed('Malformed proof in client-final-message.');
      if (!r.atEnd) throw serverMalformed('Garbage found at the end of client-final-message.');

      if (finalNonce !== state.nonce) {
        throw new AuthError(SQLSTATE.protocolViolation, 'nonce-mismatch', 'invalid SCRAM response', 'Nonce does not match.');
      }

      const authMessage = Buffer.from(
        `${state.clientFirstBare},${state.serverFirst},${r.text.slice(0, proofAt)}`,
        'latin1',
      );
      const clientKey = xor(proof, hmac(this.verifier.storedKey, authMessage));
      const proofOk = timingSafeEqual(sha256(clientKey), this.verifier.storedKey);
      if (!proofOk || this.doomed) {
        throw new AuthError(SQLSTATE.invalidPassword, 'wrong-password', `password authentication failed for user "${this.user}"`);
      }
      const serverSignature = hmac(this.verifier.serverKey, authMessage);
      return { ok: true, serverFinal: Buffer.from(`v=${serverSignature.toString('base64')}`, 'latin1') };
    } catch (error) {
      return fail(error);
    }
  }

  /** Whether channel binding is in use, or an error if the mechanism cannot be used here. */
  private selectMechanism(mechanism: string): boolean {
    if (mechanism === SCRAM_SHA_256_PLUS && this.options.channelBinding) return true;
    if (mechanism === SCRAM_SHA_256) return false;
    throw new AuthError(SQLSTATE.protocolViolation, 'invalid-mechanism', 'client selected an invalid SASL authentication mechanism');
  }

  /** gs2-header = gs2-cbind-flag "," [ authzid ] ","; authzid is refused. */
  private readGs2Header(r: AttrReader, cbindInUse: boolean): 'n' | 'y' | 'p' {
    const flag = r.peek();
    const noCbindData = () =>
      serverMalformed('The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.');
    const comma = () => {
      r.pos++;
      if (r.peek() !== ',') throw serverMalformed(`Comma expected, but found character "${sanitizeChar(r.peek())}".`);
      r.pos++;
    };
    let result: 'n' | 'y' | 'p';
    switch (flag) {
      case 'n':
        if (cbindInUse) throw noCbindData();
        comma();
        result = 'n';
        break;
      case 'y':
        if (cbindInUse) throw noCbindData();
        if (this.options.channelBinding) {
          throw new AuthError(
            SQLSTATE.invalidAuthorizationSpecification,
            'channel-binding-downgrade',
            'SCRAM channel binding negotiation error',
            'The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding.',
          );
        }
        comma();
        result = 'y';
        break;
      case 'p': {
        if (!cbindInUse) {
          throw serverMalformed(
            'The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.',
          );
        }
        const type = r.value('p');
        if (type !== CBIND_TYPE) {
          throw new AuthError(
            SQLSTATE.protocolViolation,
            'unsupported-channel-binding-type',
            `unsupported SCRAM channel-binding type "${sanitizeString(type)}"`,
          );
        }
        result = 'p';
        break;
      }
      default:
        throw serverMalformed(`Unexpected channel-binding flag "${sanitizeChar(flag)}".`);
    }
    if (r.peek() === 'a') {
      throw new AuthError(
        SQLSTATE.featureNotSupported,
        'authzid-unsupported',
        'client uses authorization identity, but it is not supported',
      );
    }
    if (r.peek() !== ',') throw serverMalformed(`Unexpected attribute "${sanitizeChar(r.peek())}" in client-first-message.`);
    r.pos++;
    return result;
  }
}

function outOfOrder(what: string): AuthError {
  return new AuthError(SQLSTATE.protocolViolation, 'out-of-order', `unexpected SCRAM ${what}: the exchange is not expecting one`);
}

function fail(error: unknown): { ok: false; error: AuthError } {
  if (error instanceof AuthError) return { ok: false, error };
  throw error;
}

// ---------------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------------

export interface ScramClientOptions {
  readonly password: string | Buffer;
  /** The mechanisms the server listed in AuthenticationSASL. */
  readonly mechanisms: readonly string[];
  /**
   * The `tls-server-end-point` hash of the server's certificate, when connected over TLS
   * (`tlsServerEndPointHash(socket.getPeerCertificate().raw)`). Without it no channel binding.
   */
  readonly channelBinding?: Buffer;
  /**
   * libpq's `channel_binding`: `prefer` (default) uses -PLUS when possible, `require` fails
   * unless -PLUS is used, `disable` never binds.
   */
  readonly channelBindingMode?: 'disable' | 'prefer' | 'require';
  /** Refuse a server-first-message asking for more iterations than this (unlimited if unset). */
  readonly maxIterations?: number;
}

function clientMalformed(detail: string): AuthError {
  return new AuthError(SQLSTATE.protocolViolation, 'malformed-message', `malformed SCRAM message (${detail})`);
}

/**
 * The client half of one SCRAM exchange: pick the mechanism from the server's list (done by the
 * constructor, see `mechanism`), send `clientFirst()` in SASLInitialResponse, pass the
 * AuthenticationSASLContinue payload to `handleServerFirst` and send its result in SASLResponse,
 * then pass the AuthenticationSASLFinal payload to `verifyServerFinal`. Methods throw `AuthError`.
 */
export class ScramClientSession {
  /** The mechanism to name in SASLInitialResponse. */
  readonly mechanism: ScramMechanism;
  private readonly gs2Header: string;
  private readonly clientNonce = randomBytes(RAW_NONCE_LENGTH).toString('base64');
  private step: 'initial' | 'sent-first' | 'sent-final' | 'done' = 'initial';
  private expectedServerSignature: Buffer | undefined;

  constructor(private readonly options: ScramClientOptions) {
    const mode = options.channelBindingMode ?? 'prefer';
    const canBind = mode !== 'disable' && options.channelBinding !== undefined && options.channelBinding.length > 0;
    if (canBind && options.mechanisms.includes(SCRAM_SHA_256_PLUS)) {
      this.mechanism = SCRAM_SHA_256_PLUS;
      this.gs2Header = `p=${CBIND_TYPE},,`;
    } else if (mode === 'require') {
      throw new AuthError(
        SQLSTATE.invalidAuthorizationSpecification,
        'no-usable-mechanism',
        canBind
          ? 'channel binding is required, but server did not offer an authentication method that supports channel binding'
          : 'channel binding is required, but no tls-server-end-point data is available (not connected over TLS?)',
      );
    } else if (options.mechanisms.includes(SCRAM_SHA_256)) {
      this.mechanism = SCRAM_SHA_256;
      // 'y': this client could bind but the server did not offer it (RFC 5802 downgrade detection).
      this.gs2Header = canBind ? 'y,,' : 'n,,';
    } else {
      throw new AuthError(
        SQLSTATE.invalidAuthorizationSpecification,
        'no-usable-mechanism',
        'none of the server\'s SASL authentication mechanisms are supported',
      );
    }
  }

  private get clientFirstBare(): string {
    // The user name is left empty, as libpq does: PostgreSQL uses the StartupMessage's.
    return `n=,r=${this.clientNonce}`;
  }

  /** The payload of SASLInitialResponse (its mechanism is `this.mechanism`). */
  clientFirst(): Buffer {
    if (this.step !== 'initial') throw outOfOrder('client-first request');
    this.step = 'sent-first';
    return Buffer.from(this.gs2Header + this.clientFirstBare, 'latin1');
  }

  /** Takes the AuthenticationSASLContinue payload; returns the SASLResponse payload. */
  handleServerFirst(serverFirst: Buffer): Buffer {
    if (this.step !== 'sent-first') throw outOfOrder('server-first-message');
    this.step = 'done';
    const text = payloadText(serverFirst, clientMalformed);
    const r = new AttrReader(text, clientMalformed);
    const nonce = r.value('r');
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length || !isPrintable(nonce)) {
      throw new AuthError(SQLSTATE.protocolViolation, 'server-nonce-mismatch', 'invalid SCRAM response (nonce mismatch)');
    }
    const salt = decodeBase64(r.value('s'));
    if (!salt || salt.length === 0) throw clientMalformed('invalid salt');
    const iterationsText = r.value('i');
    const iterations = Number(iterationsText);
    if (!/^[1-9][0-9]*$/.test(iterationsText) || iterations > 0x7fffffff) throw clientMalformed('invalid iteration count');
    if (!r.atEnd) throw clientMalformed('garbage at end of server-first-message');
    if (this.options.maxIterations !== undefined && iterations > this.options.maxIterations) {
      throw new AuthError(
        SQLSTATE.invalidAuthorizationSpecification,
        'iteration-count-too-high',
        `SCRAM iteration count ${iterations} exceeds the maximum of ${this.options.maxIterations}`,
      );
    }

    const cbindInput = Buffer.concat([
      Buffer.from(this.gs2Header, 'latin1'),
      this.mechanism === SCRAM_SHA_256_PLUS ? this.options.channelBinding! : Buffer.alloc(0),
    ]);
    const finalWithoutProof = `c=${cbindInput.toString('base64')},r=${nonce}`;
    const authMessage = Buffer.from(`${this.clientFirstBare},${text},${finalWithoutProof}`, 'latin1');

    const saltedPassword = scramSaltedPassword(this.options.password, salt, iterations);
    const clientKey = hmac(saltedPassword, 'Client Key');
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
    this.expectedServerSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
    this.step = 'sent-final';
    return Buffer.from(`${finalWithoutProof},p=${proof.toString('base64')}`, 'latin1');
  }

  /** Takes the AuthenticationSASLFinal payload; throws unless the server proved it knows the password. */
  verifyServerFinal(serverFinal: Buffer): void {
    if (this.step !== 'sent-final' || !this.expectedServerSignature) throw outOfOrder('server-final-message');
    this.step = 'done';
    const r = new AttrReader(payloadText(serverFinal, clientMalformed), clientMalformed);
    if (r.peek() === 'e') {
      throw new AuthError(
        SQLSTATE.invalidAuthorizationSpecification,
        'server-error',
        `error received from server in SCRAM exchange: ${r.value('e')}`,
      );
    }
    const signature = decodeBase64(r.value('v'));
    if (!signature || signature.length !== KEY_LENGTH) throw clientMalformed('malformed server signature');
    if (!r.atEnd) throw clientMalformed('garbage at end of server-final-message');
    if (!timingSafeEqual(signature, this.expectedServerSignature)) {
      throw new AuthError(SQLSTATE.invalidAuthorizationSpecification, 'server-signature-mismatch', 'incorrect server signature');
    }
  }
}
