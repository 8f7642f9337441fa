/**
 * SASLprep (RFC 4013), the string preparation SCRAM applies to passwords, and PostgreSQL's rule
 * for what to do when a password cannot be prepared.
 */
import {
  L_CAT,
  MAPPED_TO_NOTHING,
  NON_ASCII_SPACE,
  PROHIBITED,
  RAND_AL_CAT,
  UNASSIGNED,
} from './saslprep-tables.js';

export type SaslprepFailure = 'prohibited' | 'unassigned' | 'bidi' | 'invalid-utf16';

export class SaslprepError extends Error {
  constructor(
    readonly failure: SaslprepFailure,
    readonly codePoint?: number,
  ) {
    const at = codePoint === undefined ? '' : ` (U+${codePoint.toString(16).toUpperCase().padStart(4, '0')})`;
    super(`string is not valid for SASLprep: ${failure}${at}`);
    this.name = 'SaslprepError';
  }
}

function inTable(table: readonly number[], cp: number): boolean {
  let lo = 0;
  let hi = table.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < table[2 * mid]!) hi = mid - 1;
    else if (cp > table[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

function hasLoneSurrogate(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) return true;
  }
  return false;
}

/** RFC 4013 mapping step: non-ASCII spaces become U+0020, "commonly mapped to nothing" vanish. */
function map(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (inTable(NON_ASCII_SPACE, cp)) out += ' ';
    else if (!inTable(MAPPED_TO_NOTHING, cp)) out += ch;
  }
  return out;
}

/**
 * Prepares `input` as a SASLprep "stored string" (unassigned code points are refused), following
 * RFC 4013: map, normalize to NFKC, refuse prohibited output, check bidi. Throws `SaslprepError`.
 */
export function saslprep(input: string): string {
  if (hasLoneSurrogate(input)) throw new SaslprepError('invalid-utf16');
  const normalized = map(input).normalize('NFKC');
  const cps = codePoints(normalized);
  for (const cp of cps) {
    if (inTable(PROHIBITED, cp)) throw new SaslprepError('prohibited', cp);
    if (inTable(UNASSIGNED, cp)) throw new SaslprepError('unassigned', cp);
  }
  // RFC 3454 section 6: a string with any R/AL character may contain no L character, and must
  // start and end with an R/AL character.
  if (cps.some((cp) => inTable(RAND_AL_CAT, cp))) {
    const offender = cps.find((cp) => inTable(L_CAT, cp));
    if (offender !== undefined) throw new SaslprepError('bidi', offender);
    if (!inTable(RAND_AL_CAT, cps[0]!)) throw new SaslprepError('bidi', cps[0]);
    if (!inTable(RAND_AL_CAT, cps[cps.length - 1]!)) throw new SaslprepError('bidi', cps[cps.length - 1]);
  }
  return normalized;
}

const MAX_PASSWORD_LENGTH = 1024;

/**
 * The bytes SCRAM feeds into PBKDF2 for `password`, as PostgreSQL (and libpq) compute them:
 * a pure-ASCII password is used as is; otherwise the SASLprep result in UTF-8, unless the
 * password is not valid UTF-8, maps to nothing, or fails SASLprep, in which case the raw bytes are
 * used. A Buffer is taken as the password's raw bytes (PostgreSQL's passwords are byte strings).
 */
export function scramPasswordBytes(password: string | Buffer): Buffer {
  const raw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  if (raw.length > MAX_PASSWORD_LENGTH) throw new RangeError('password too long');
  if (raw.every((b) => b < 0x80)) return raw;
  let text: string;
  if (typeof password === 'string') {
    if (hasLoneSurrogate(password)) return raw;
    text = password;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      return raw;
    }
  }
  // PostgreSQL refuses a password that maps to the empty string, and so falls back to raw bytes.
  if (map(text) === '') return raw;
  try {
    return Buffer.from(saslprep(text), 'utf8');
  } catch (error) {
    if (error instanceof SaslprepError) return raw;
    throw error;
  }
}
