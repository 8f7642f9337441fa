/**
 * Checking a cleartext password (method `password`, or a proxy re-checking one) against what the
 * server stores: a SCRAM verifier or an md5 secret, as PostgreSQL's plain_crypt_verify does.
 */
import { timingSafeEqual } from 'node:crypto';
import { constantTimeEqual, isMd5Secret, md5Secret } from './md5.js';
import { parseScramVerifier, scramKeys, scramSaltedPassword, type ScramVerifier } from './scram.js';

/** PostgreSQL refuses passwords longer than this before hashing them. */
const MAX_PASSWORD_BYTES = 1024;

/**
 * Whether `password` matches `stored` for `user` (the user name is part of an md5 secret).
 * `stored` is a SCRAM verifier (string or parsed) or an md5 secret; anything else never matches.
 */
export function verifyCleartextPassword(user: string, password: string | Buffer, stored: string | ScramVerifier): boolean {
  const length = typeof password === 'string' ? Buffer.byteLength(password, 'utf8') : password.length;
  if (length > MAX_PASSWORD_BYTES) return false;
  if (typeof stored === 'string' && isMd5Secret(stored)) return constantTimeEqual(md5Secret(user, password), stored);
  let verifier: ScramVerifier;
  try {
    verifier = typeof stored === 'string' ? parseScramVerifier(stored) : stored;
  } catch {
    return false;
  }
  const keys = scramKeys(scramSaltedPassword(password, verifier.salt, verifier.iterations));
  return timingSafeEqual(
    Buffer.concat([keys.storedKey, keys.serverKey]),
    Buffer.concat([verifier.storedKey, verifier.serverKey]),
  );
}
