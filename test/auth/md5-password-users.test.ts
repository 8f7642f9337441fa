import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretFormatError } from '../../runtime/auth/errors.js';
import { isMd5Secret, md5Response, md5Secret, verifyMd5Response } from '../../runtime/auth/md5.js';
import { verifyCleartextPassword } from '../../runtime/auth/password.js';
import { createScramVerifier, parseScramVerifier } from '../../runtime/auth/scram.js';
import { parseUserSpec, UserTable } from '../../runtime/auth/users.js';

const md5hex = (s: string | Buffer) => createHash('md5').update(s).digest('hex');

describe('md5', () => {
  const salt = Buffer.from([0x01, 0x02, 0xfe, 0xff]);

  it('builds the stored secret and the client response', () => {
    expect(md5Secret('carol', 'pw')).toBe(`md5${md5hex('pwcarol')}`);
    const inner = md5hex('pwcarol');
    const expected = `md5${md5hex(Buffer.concat([Buffer.from(inner), salt]))}`;
    expect(md5Response({ user: 'carol', password: 'pw' }, salt)).toBe(expected);
    expect(md5Response(md5Secret('carol', 'pw'), salt)).toBe(expected);
  });

  it('verifies a response', () => {
    const secret = md5Secret('carol', 'pw');
    expect(verifyMd5Response(secret, salt, md5Response(secret, salt))).toBe(true);
    expect(verifyMd5Response(secret, salt, md5Response({ user: 'carol', password: 'px' }, salt))).toBe(false);
    expect(verifyMd5Response(secret, Buffer.from([1, 2, 3, 4]), md5Response(secret, salt))).toBe(false);
    expect(verifyMd5Response(secret, salt, 'md5')).toBe(false);
    expect(verifyMd5Response(secret, salt, '')).toBe(false);
  });

  it('recognizes secrets the way PostgreSQL does', () => {
    expect(isMd5Secret(md5Secret('a', 'b'))).toBe(true);
    expect(isMd5Secret('md5' + 'A'.repeat(32))).toBe(false);
    expect(isMd5Secret('md5abc')).toBe(false);
    expect(() => md5Response('md5abc', salt)).toThrow(SecretFormatError);
  });
});

describe('cleartext password check', () => {
  it('checks against a SCRAM verifier (string or parsed) and an md5 secret', () => {
    const scram = createScramVerifier('s3cret', { iterations: 64 });
    expect(verifyCleartextPassword('alice', 's3cret', scram)).toBe(true);
    expect(verifyCleartextPassword('alice', 's3cret', parseScramVerifier(scram))).toBe(true);
    expect(verifyCleartextPassword('alice', 's3creT', scram)).toBe(false);
    expect(verifyCleartextPassword('carol', 'pw', md5Secret('carol', 'pw'))).toBe(true);
    expect(verifyCleartextPassword('dave', 'pw', md5Secret('carol', 'pw'))).toBe(false);
    expect(verifyCleartextPassword('carol', 'pw', 'plaintext-is-never-a-secret')).toBe(false);
    expect(verifyCleartextPassword('carol', 'x'.repeat(2000), scram)).toBe(false);
  });
});

describe('SCRAM verifier format', () => {
  it('round-trips and refuses malformed secrets', () => {
    const v = createScramVerifier('pw', { iterations: 10, salt: Buffer.alloc(16, 7) });
    expect(v).toMatch(/^SCRAM-SHA-256\$10:BwcHBwcHBwcHBwcHBwcHBw==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(parseScramVerifier(v).iterations).toBe(10);
    for (const bad of ['', 'SCRAM-SHA-256$0:AAAA$x:y', v.replace('$10:', '$x:'), v.slice(0, -4), v.replace('SCRAM-SHA-256', 'SCRAM-SHA-1'), `${v}$`]) {
      expect(() => parseScramVerifier(bad)).toThrow(SecretFormatError);
    }
  });
});

describe('UserTable', () => {
  const table = UserTable.parse([
    'alice:scram-sha-256:secret',
    'bob:trust',
    'carol:md5:pw',
    'dave:password:hunter2',
    `erin:md5:${createScramVerifier('e', { iterations: 16 })}`,
    `frank:scram-sha-256:${createScramVerifier('f', { iterations: 16 })}`,
    `gina:md5:${md5Secret('gina', 'g')}`,
  ], { scramIterations: 16 });

  it('hashes plaintext passwords into SCRAM verifiers, and md5 secrets only for method md5', () => {
    const alice = table.lookup('alice')!;
    expect(alice).toMatchObject({ method: 'scram-sha-256', exchange: 'scram-sha-256' });
    expect(alice.md5Secret).toBeUndefined();
    expect(verifyCleartextPassword('alice', 'secret', alice.scramVerifier!)).toBe(true);

    const carol = table.lookup('carol')!;
    expect(carol).toMatchObject({ method: 'md5', exchange: 'md5', md5Secret: md5Secret('carol', 'pw') });
    expect(verifyCleartextPassword('carol', 'pw', carol.scramVerifier!)).toBe(true);

    expect(table.lookup('dave')).toMatchObject({ method: 'password', exchange: 'cleartext' });
    expect(JSON.stringify(['alice', 'carol', 'dave'].map((n) => table.lookup(n)))).not.toMatch(/secret|hunter2|"pw"/);
  });

  it('accepts pre-hashed secrets; md5 with a SCRAM secret runs SCRAM, as in PostgreSQL', () => {
    expect(table.lookup('erin')).toMatchObject({ method: 'md5', exchange: 'scram-sha-256' });
    expect(table.lookup('frank')!.scramVerifier!.iterations).toBe(16);
    expect(table.lookup('gina')).toMatchObject({ exchange: 'md5', md5Secret: md5Secret('gina', 'g') });
  });

  it('has trust users and no entry for unknown users without a wildcard', () => {
    expect(table.lookup('bob')).toEqual({ method: 'trust', exchange: 'trust' });
    expect(table.lookup('zed')).toBeUndefined();
  });

  it('applies a wildcard rule to everyone else', () => {
    const t = UserTable.parse(['alice:scram-sha-256:secret', '*:trust']);
    expect(t.lookup('alice')!.method).toBe('scram-sha-256');
    expect(t.lookup('anyone')).toEqual({ method: 'trust', exchange: 'trust' });
    const m = UserTable.parse(['*:md5:pw'], { scramIterations: 16 });
    expect(m.lookup('x')).toMatchObject({ method: 'md5', exchange: 'scram-sha-256' }); // no per-user md5 salt
  });

  it('parses the CLI form, keeping colons in passwords', () => {
    expect(parseUserSpec('alice:scram-sha-256:a:b:c')).toEqual({ name: 'alice', method: 'scram-sha-256', password: 'a:b:c' });
    expect(parseUserSpec('bob:trust')).toEqual({ name: 'bob', method: 'trust' });
    expect(parseUserSpec(`c:md5:${md5Secret('c', 'x')}`)).toEqual({ name: 'c', method: 'md5', secret: md5Secret('c', 'x') });
  });

  it.each([
    ['alice', /expected name:method/],
    [':trust', /expected name:method/],
    ['alice:scram', /unknown method "scram"/],
    ['alice:scram-sha-256', /needs a password or a secret/],
    ['bob:trust:pw', /trust takes no password/],
    [`alice:scram-sha-256:${md5Secret('alice', 'x')}`, /not an md5 secret/],
    [`*:md5:${md5Secret('x', 'x')}`, /cannot apply to every user/],
    ['alice:scram-sha-256:SCRAM-SHA-256$broken', /not a SCRAM-SHA-256 secret/],
  ])('refuses %j', (spec, message) => {
    expect(() => UserTable.parse([spec])).toThrow(message);
  });

  it('refuses duplicate users', () => {
    expect(() => UserTable.parse(['a:trust', 'a:trust'])).toThrow(/listed twice/);
  });
});
