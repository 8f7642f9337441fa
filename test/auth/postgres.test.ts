/**
 * pgspec's SCRAM and md5 primitives against a real PostgreSQL 15: stored secrets must be
 * byte-identical, logins must succeed, and malformed SCRAM messages must fail with the same
 * SQLSTATE, message and detail from both servers.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlsServerEndPointHash } from '../../runtime/auth/channel-binding.js';
import { md5Response, md5Secret, verifyMd5Response } from '../../runtime/auth/md5.js';
import { verifyCleartextPassword } from '../../runtime/auth/password.js';
import {
  createScramVerifier,
  parseScramVerifier,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  ScramClientSession,
  ScramServerSession,
} from '../../runtime/auth/scram.js';
import { makeCertificate, type TestCertificate } from './certificates.js';
import { postgresAvailable, startCluster, type Cluster } from './postgres-cluster.js';
import { authCode, cstring, errorFields, int32, RawConnection } from './raw-client.js';

const HBA = `
local all all trust
host all carol 127.0.0.1/32 md5
host all all 127.0.0.1/32 scram-sha-256
`;

const PASSWORDS = {
  alice: 'alice-pw',
  dora: 'I\u00ADX \u2168 p\u00e4ssw\u00f6rd', // SASLprep changes it
  erin: '\u0627\u0031', // SASLprep refuses it (bidi): the raw bytes are hashed
  carol: 'carol-pw',
} as const;

type Outcome = { ok: true } | { ok: false; C?: string; M?: string; D?: string };

function pick(fields: Record<string, string>): Outcome {
  return { ok: false, C: fields.C, M: fields.M, ...(fields.D !== undefined ? { D: fields.D } : {}) };
}

// Outside CI a machine without PostgreSQL 15 skips this suite (and says how to install it);
// under CI=true a missing server is a failure.
if (!postgresAvailable()) {
  if (process.env.CI === 'true') {
    it('needs PostgreSQL 15 (apt-get install -y postgresql)', () => {
      throw new Error('PostgreSQL 15 is not installed: apt-get install -y postgresql');
    });
  } else {
    process.stdout.write('real PostgreSQL skipped: test/auth/postgres.test.ts (install: apt-get install -y postgresql)\n');
  }
}

describe.skipIf(!postgresAvailable())('against a real PostgreSQL 15', () => {
  let cluster: Cluster;
  let cert: TestCertificate;
  let cbind: Buffer;

  beforeAll(async () => {
    cert = makeCertificate('ecdsa-sha384');
    cbind = tlsServerEndPointHash(cert.der);
    cluster = await startCluster({ hba: HBA, ssl: { certPem: cert.certPem, keyPem: cert.keyPem } });
    for (const user of ['alice', 'dora', 'erin'] as const) {
      await cluster.query(`CREATE ROLE ${user} LOGIN PASSWORD '${PASSWORDS[user]}'`);
    }
    await cluster.query(`SET password_encryption = 'md5'; CREATE ROLE carol LOGIN PASSWORD '${PASSWORDS.carol}'`);
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  async function rolpassword(user: string): Promise<string> {
    const rows = await cluster.query<{ rolpassword: string }>(`SELECT rolpassword FROM pg_authid WHERE rolname = '${user}'`);
    return rows[0]!.rolpassword;
  }

  describe('stored secrets', () => {
    it.each(['alice', 'dora', 'erin'] as const)('reproduces the SCRAM verifier PostgreSQL stored for %s', async (user) => {
      const stored = await rolpassword(user);
      const parsed = parseScramVerifier(stored);
      expect(parsed.iterations).toBe(4096);
      expect(parsed.salt).toHaveLength(16);
      expect(createScramVerifier(PASSWORDS[user], { salt: parsed.salt, iterations: parsed.iterations })).toBe(stored);
      expect(verifyCleartextPassword(user, PASSWORDS[user], stored)).toBe(true);
      expect(verifyCleartextPassword(user, `${PASSWORDS[user]}x`, stored)).toBe(false);
    });

    it('computes the md5 secret PostgreSQL stored', async () => {
      const stored = await rolpassword('carol');
      expect(stored).toBe(md5Secret('carol', PASSWORDS.carol));
      expect(verifyCleartextPassword('carol', PASSWORDS.carol, stored)).toBe(true);
      const salt = randomBytes(4);
      expect(verifyMd5Response(stored, salt, md5Response({ user: 'carol', password: PASSWORDS.carol }, salt))).toBe(true);
    });
  });

  /** Logs in with ScramClientSession over a raw socket. */
  async function scramLogin(
    user: string,
    password: string,
    options: { ssl?: boolean; stripPlus?: boolean; channelBindingMode?: 'disable' | 'prefer' | 'require' } = {},
  ): Promise<Outcome & { mechanism?: string }> {
    const conn = await RawConnection.open(cluster.port, { ssl: options.ssl ?? false });
    try {
      conn.startup(user);
      let m = await conn.next();
      expect(authCode(m)).toBe(10);
      let mechanisms = m.body.subarray(4).toString('latin1').split('\0').filter((s) => s !== '');
      if (options.stripPlus) mechanisms = mechanisms.filter((s) => s !== SCRAM_SHA_256_PLUS);
      const client = new ScramClientSession({
        password,
        mechanisms,
        ...(conn.peerCertificate ? { channelBinding: tlsServerEndPointHash(conn.peerCertificate) } : {}),
        ...(options.channelBindingMode ? { channelBindingMode: options.channelBindingMode } : {}),
      });
      const first = client.clientFirst();
      conn.send('p', cstring(client.mechanism), int32(first.length), first);
      m = await conn.next();
      if (m.type === 'E') return pick(errorFields(m.body));
      expect(authCode(m)).toBe(11);
      conn.send('p', client.handleServerFirst(m.body.subarray(4)));
      m = await conn.next();
      if (m.type === 'E') return pick(errorFields(m.body));
      expect(authCode(m)).toBe(12);
      client.verifyServerFinal(m.body.subarray(4));
      expect(authCode(await conn.next())).toBe(0);
      return { ok: true, mechanism: client.mechanism };
    } finally {
      conn.close();
    }
  }

  describe('ScramClientSession logs in', () => {
    it('without TLS', async () => {
      expect(await scramLogin('alice', PASSWORDS.alice)).toEqual({ ok: true, mechanism: SCRAM_SHA_256 });
    });

    it('with passwords SASLprep changes or refuses', async () => {
      expect((await scramLogin('dora', PASSWORDS.dora)).ok).toBe(true);
      expect((await scramLogin('erin', PASSWORDS.erin)).ok).toBe(true);
    });

    it('with SCRAM-SHA-256-PLUS over TLS (ECDSA-SHA384 certificate)', async () => {
      expect(await scramLogin('alice', PASSWORDS.alice, { ssl: true, channelBindingMode: 'require' })).toEqual({
        ok: true,
        mechanism: SCRAM_SHA_256_PLUS,
      });
    });

    it('and gets 28P01 for a wrong password', async () => {
      expect(await scramLogin('alice', 'nope')).toEqual({
        ok: false,
        C: '28P01',
        M: 'password authentication failed for user "alice"',
      });
    });
  });

  it('md5Response logs in to an md5 role', async () => {
    const conn = await RawConnection.open(cluster.port);
    try {
      conn.startup('carol');
      const m = await conn.next();
      expect(authCode(m)).toBe(5);
      conn.send('p', cstring(md5Response(md5Secret('carol', PASSWORDS.carol), m.body.subarray(4, 8))));
      expect(authCode(await conn.next())).toBe(0);
    } finally {
      conn.close();
    }
  });

  describe('malformed SCRAM messages: same error from PostgreSQL and ScramServerSession', () => {
    const alice = () => createScramVerifier(PASSWORDS.alice);
    const ours = (ssl: boolean) => new ScramServerSession(alice(), 'alice', ssl ? { channelBinding: cbind } : {});
    const toOutcome = (r: { ok: boolean; error?: { sqlstate: string; message: string; detail?: string | undefined } }): Outcome =>
      r.ok ? { ok: true } : { ok: false, C: r.error!.sqlstate, M: r.error!.message, ...(r.error!.detail !== undefined ? { D: r.error!.detail } : {}) };

    async function theirsFirst(mechanism: string, payload: string, ssl: boolean): Promise<Outcome> {
      const conn = await RawConnection.open(cluster.port, { ssl });
      try {
        conn.startup('alice');
        expect(authCode(await conn.next())).toBe(10);
        const body = Buffer.from(payload, 'latin1');
        conn.send('p', cstring(mechanism), int32(body.length), body);
        const m = await conn.next();
        return m.type === 'E' ? pick(errorFields(m.body)) : { ok: true };
      } finally {
        conn.close();
      }
    }

    it.each([
      [SCRAM_SHA_256, '', false],
      [SCRAM_SHA_256, 'n,,n=,r=a\u0000bc', false],
      [SCRAM_SHA_256, 'x,,n=,r=abc', false],
      [SCRAM_SHA_256, 'n;,n=,r=abc', false],
      [SCRAM_SHA_256, 'n,a=bob,n=,r=abc', false],
      [SCRAM_SHA_256, 'n,x,n=,r=abc', false],
      [SCRAM_SHA_256, 'n,,m=ext,n=,r=abc', false],
      [SCRAM_SHA_256, 'n,,n=,r=ab\u0001c', false],
      [SCRAM_SHA_256, 'n,,n=bob', false],
      [SCRAM_SHA_256, 'n,,n=,x=abc', false],
      [SCRAM_SHA_256, 'n,,n=,r', false],
      [SCRAM_SHA_256, 'n,,n=,r=abc,1=x', false],
      [SCRAM_SHA_256, 'p=tls-server-end-point,,n=,r=abc', false],
      ['SCRAM-SHA-1', 'n,,n=,r=abc', false],
      [SCRAM_SHA_256_PLUS, 'p=tls-server-end-point,,n=,r=abc', false],
      [SCRAM_SHA_256, 'y,,n=,r=abc', true],
      [SCRAM_SHA_256_PLUS, 'n,,n=,r=abc', true],
      [SCRAM_SHA_256_PLUS, 'y,,n=,r=abc', true],
      [SCRAM_SHA_256_PLUS, 'p=tls-unique,,n=,r=abc', true],
    ])('client-first %s %j (TLS: %s)', async (mechanism, payload, ssl) => {
      const theirs = await theirsFirst(mechanism, payload, ssl);
      expect(theirs.ok).toBe(false);
      expect(toOutcome(ours(ssl).handleClientFirst(mechanism, Buffer.from(payload, 'latin1')))).toEqual(theirs);
    });

    const proof = randomBytes(32).toString('base64');
    const badCbind = Buffer.concat([Buffer.from('p=tls-server-end-point,,'), randomBytes(48)]).toString('base64');
    const finals: Array<[name: string, plus: boolean, build: (nonce: string) => string]> = [
      ['no proof', false, (n) => `c=biws,r=${n}`],
      ['invalid base64 proof', false, (n) => `c=biws,r=${n},p=@@@@`],
      ['short proof', false, (n) => `c=biws,r=${n},p=${randomBytes(16).toString('base64')}`],
      ['garbage after the proof', false, (n) => `c=biws,r=${n},p=${proof},x=1`],
      ['c= not first', false, (n) => `r=${n},p=${proof}`],
      ['c= says y but the header said n', false, (n) => `c=eSws,r=${n},p=${proof}`],
      ['wrong nonce', false, (n) => `c=biws,r=${n}x,p=${proof}`],
      ['client nonce only', false, () => `c=biws,r=clientnonce,p=${proof}`],
      ['wrong proof', false, (n) => `c=biws,r=${n},p=${proof}`],
      ['channel binding to another certificate', true, (n) => `c=${badCbind},r=${n},p=${proof}`],
    ];

    it.each(finals)('client-final: %s', async (_name, plus, build) => {
      const mechanism = plus ? SCRAM_SHA_256_PLUS : SCRAM_SHA_256;
      const clientFirst = `${plus ? 'p=tls-server-end-point' : 'n'},,n=,r=clientnonce`;
      const nonceOf = (serverFirst: Buffer) => /^r=([^,]+),/.exec(serverFirst.toString('latin1'))![1]!;

      const conn = await RawConnection.open(cluster.port, { ssl: plus });
      let theirs: Outcome;
      try {
        conn.startup('alice');
        expect(authCode(await conn.next())).toBe(10);
        conn.send('p', cstring(mechanism), int32(clientFirst.length), Buffer.from(clientFirst));
        const m = await conn.next();
        expect(authCode(m)).toBe(11);
        const serverFirst = m.body.subarray(4);
        expect(serverFirst.toString()).toMatch(/^r=clientnonce[A-Za-z0-9+/]{22}[A-Za-z0-9+/=]{2},s=[A-Za-z0-9+/]{22}==,i=4096$/);
        conn.send('p', Buffer.from(build(nonceOf(serverFirst)), 'latin1'));
        const reply = await conn.next();
        theirs = reply.type === 'E' ? pick(errorFields(reply.body)) : { ok: true };
      } finally {
        conn.close();
      }

      const server = ours(plus);
      const first = server.handleClientFirst(mechanism, Buffer.from(clientFirst));
      if (!first.ok) throw first.error;
      expect(first.serverFirst.toString()).toMatch(/^r=clientnonce[A-Za-z0-9+/]{24},s=[A-Za-z0-9+/]{22}==,i=4096$/);
      const final = server.handleClientFinal(Buffer.from(build(nonceOf(first.serverFirst)), 'latin1'));
      expect(theirs.ok).toBe(false);
      expect(toOutcome(final)).toEqual(theirs);
    });
  });
});
