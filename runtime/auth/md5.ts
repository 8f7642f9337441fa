/**
 * PostgreSQL's MD5 password scheme (deprecated, still common): the stored secret is
 * 'md5' + hex(md5(password || user)), and the client proves knowledge of it with
 * 'md5' + hex(md5(hex(md5(password || user)) || salt)) for a 4-byte salt chosen by the server.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SecretFormatError } from './errors.js';

const MD5_SECRET = /^md5[0-9a-f]{32}$/;

function md5Hex(...parts: Buffer[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function bytes(s: string | Buffer): Buffer {
  return typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
}

/** Whether `s` is an md5 secret as PostgreSQL recognizes one ('md5' and 32 lowercase hex digits). */
export function isMd5Secret(s: string): boolean {
  return MD5_SECRET.test(s);
}

/** The secret PostgreSQL stores in pg_authid for an md5-encrypted password. */
export function md5Secret(user: string, password: string | Buffer): string {
  return 'md5' + md5Hex(bytes(password), bytes(user));
}

/**
 * What a client sends in PasswordMessage after AuthenticationMD5Password with `salt`. Takes either
 * the stored secret (as a proxy holding only the secret can) or the user and cleartext password.
 */
export function md5Response(secretOrUserPassword: string | { user: string; password: string | Buffer }, salt: Buffer): string {
  const secret =
    typeof secretOrUserPassword === 'string'
      ? secretOrUserPassword
      : md5Secret(secretOrUserPassword.user, secretOrUserPassword.password);
  if (!isMd5Secret(secret)) throw new SecretFormatError('not an md5 secret (expected "md5" and 32 hex digits)');
  if (salt.length !== 4) throw new RangeError('an md5 salt is 4 bytes');
  return 'md5' + md5Hex(Buffer.from(secret.slice(3), 'latin1'), salt);
}

/** Constant-time comparison of two strings' bytes; false when lengths differ. */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const x = bytes(a);
  const y = bytes(b);
  // Compare equal-length buffers even on a length mismatch, so timing does not depend on content.
  const ok = timingSafeEqual(x.length === y.length ? x : y, y);
  return ok && x.length === y.length;
}

/** Checks a client's md5 PasswordMessage (without its NUL terminator) against the stored secret. */
export function verifyMd5Response(storedSecret: string, salt: Buffer, response: string | Buffer): boolean {
  return constantTimeEqual(md5Response(storedSecret, salt), response);
}
