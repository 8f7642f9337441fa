import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { tlsServerEndPointHash } from '../../runtime/auth/channel-binding.js';
import { AuthError } from '../../runtime/auth/errors.js';
import {
  createScramVerifier,
  parseScramVerifier,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  ScramClientSession,
  ScramServerSession,
} from '../../runtime/auth/scram.js';
import { makeCertificate, type TestCertificate } from './certificates.js';
import { pgSasl, type PgSaslStream } from './pg-sasl.js';

const PASSWORD = 'correct horse battery staple';
const verifier = createScramVerifier(PASSWORD);

/** Runs a whole exchange with node-postgres's client against `server`; returns the failing step's error. */
async function loginWithPg(
  server: ScramServerSession,
  password: string,
  stream?: PgSaslStream,
): Promise<{ ok: true } | { ok: false; error: AuthError }> {
  const session = pgSasl.startSession(ScramServerSession.mechanisms(false).concat(stream ? [SCRAM_SHA_256_PLUS] : []), stream);
  const first = server.handleClientFirst(session.mechanism, Buffer.from(session.response));
  if (!first.ok) return first;
  await pgSasl.continueSession(session, password, first.serverFirst.toString(), stream);
  const final = server.handleClientFinal(Buffer.from(session.response));
  if (!final.ok) return final;
  pgSasl.finalizeSession(session, final.serverFinal.toString()); // throws if the signature is wrong
  return { ok: true };
}

function expectError(result: { ok: boolean; error?: AuthError }, reason: string, sqlstate: string): AuthError {
  expect(result.ok).toBe(false);
  const error = result.error!;
  expect(error).toBeInstanceOf(AuthError);
  expect({ reason: error.reason, sqlstate: error.sqlstate }).toEqual({ reason, sqlstate });
  return error;
}

describe('ScramServerSession driven by node-postgres', () => {
  it('accepts the right password', async () => {
    expect(await loginWithPg(new ScramServerSession(verifier, 'alice'), PASSWORD)).toEqual({ ok: true });
  });

  it('refuses a wrong password with 28P01 and PostgreSQL\'s message', async () => {
    const error = expectError(await loginWithPg(new ScramServerSession(verifier, 'alice'), 'wrong'), 'wrong-password', '28P01');
    expect(error.message).toBe('password authentication failed for user "alice"');
  });

  it('accepts a non-ASCII password that SASLprep changes', async () => {
    const v = createScramVerifier('I\u00ADX \u2168');
    expect(await loginWithPg(new ScramServerSession(v, 'alice'), 'IX IX')).toEqual({ ok: true });
  });

  describe('with channel binding', () => {
    let rsa: TestCertificate;
    let ecdsa: TestCertificate;
    beforeAll(() => {
      rsa = makeCertificate('rsa-sha256');
      ecdsa = makeCertificate('ecdsa-sha384');
    });
    const stream = (cert: TestCertificate): PgSaslStream => ({ getPeerCertificate: () => ({ raw: cert.der }) });

    it('accepts SCRAM-SHA-256-PLUS with the right certificate (RSA-SHA256 and ECDSA-SHA384)', async () => {
      for (const cert of [rsa, ecdsa]) {
        const server = new ScramServerSession(verifier, 'alice', { channelBinding: tlsServerEndPointHash(cert.der) });
        expect(await loginWithPg(server, PASSWORD, stream(cert))).toEqual({ ok: true });
      }
    });

    it('refuses a client bound to another certificate (a man in the middle) with 28000', async () => {
      const server = new ScramServerSession(verifier, 'alice', { channelBinding: tlsServerEndPointHash(rsa.der) });
      const error = expectError(await loginWithPg(server, PASSWORD, stream(ecdsa)), 'channel-binding-mismatch', '28000');
      expect(error.message).toBe('SCRAM channel binding check failed');
    });

    it('treats GS2 flag y as a downgrade when the server offers -PLUS', () => {
      // pg sends "y" when it has TLS but the mechanism list it saw lacked -PLUS (stripped on the way).
      const session = pgSasl.startSession([SCRAM_SHA_256], true);
      expect(session.response.startsWith('y,,')).toBe(true);
      const server = new ScramServerSession(verifier, 'alice', { channelBinding: tlsServerEndPointHash(rsa.der) });
      const error = expectError(server.handleClientFirst(session.mechanism, Buffer.from(session.response)), 'channel-binding-downgrade', '28000');
      expect(error.message).toBe('SCRAM channel binding negotiation error');
    });

    it('accepts GS2 flag y when the server does not offer -PLUS', async () => {
      const session = pgSasl.startSession([SCRAM_SHA_256], true);
      const server = new ScramServerSession(verifier, 'alice');
      const first = server.handleClientFirst(session.mechanism, Buffer.from(session.response));
      if (!first.ok) throw first.error;
      await pgSasl.continueSession(session, PASSWORD, first.serverFirst.toString(), true);
      expect(session.response.startsWith('c=eSws,')).toBe(true);
      expect(server.handleClientFinal(Buffer.from(session.response)).ok).toBe(true);
    });

    it('advertises -PLUS first, and only with channel-binding data', () => {
      expect(ScramServerSession.mechanisms(true)).toEqual([SCRAM_SHA_256_PLUS, SCRAM_SHA_256]);
      expect(ScramServerSession.mechanisms(false)).toEqual([SCRAM_SHA_256]);
    });
  });

  describe('mock exchange for unknown users', () => {
    const secret = randomBytes(32);

    it('fails exactly like a wrong password', async () => {
      const error = expectError(await loginWithPg(ScramServerSession.forUnknownUser('mallory', secret), PASSWORD), 'wrong-password', '28P01');
      expect(error.message).toBe('password authentication failed for user "mallory"');
    });

    it('uses a stable 16-byte salt per user and server secret, and 4096 iterations', () => {
      const serverFirst = (user: string, key: Buffer) => {
        const s = ScramServerSession.forUnknownUser(user, key);
        const r = s.handleClientFirst(SCRAM_SHA_256, Buffer.from('n,,n=,r=abcdef'));
        if (!r.ok) throw r.error;
        return /,s=([^,]+),i=(\d+)$/.exec(r.serverFirst.toString())!.slice(1);
      };
      const [salt, iterations] = serverFirst('mallory', secret);
      expect(Buffer.from(salt!, 'base64')).toHaveLength(16);
      expect(iterations).toBe('4096');
      expect(serverFirst('mallory', secret)[0]).toBe(salt);
      expect(serverFirst('trudy', secret)[0]).not.toBe(salt);
      expect(serverFirst('mallory', randomBytes(32))[0]).not.toBe(salt);
      // A real verifier's salt looks the same.
      expect(parseScramVerifier(verifier).salt).toHaveLength(16);
    });
  });
});

describe('ScramServerSession refuses malformed client messages', () => {
  const first = (message: string | Buffer, mechanism = SCRAM_SHA_256, channelBinding?: Buffer) =>
    new ScramServerSession(verifier, 'alice', channelBinding ? { channelBinding } : {}).handleClientFirst(
      mechanism,
      typeof message === 'string' ? Buffer.from(message, 'latin1') : message,
    );

  it.each([
    ['x,,n=,r=abc', `Unexpected channel-binding flag "'x'".`],
    ['n;,n=,r=abc', `Comma expected, but found character "';'".`],
    ['n,,', 'Expected attribute "n" but found "0x00".'],
    ['n,,n=bob', 'Expected attribute "r" but found "0x00".'],
    ['n,,n=,x=abc', `Expected attribute "r" but found "'x'".`],
    ['n,,n=,r', 'Expected character "=" for attribute "r".'],
    ['n,,n=,r=abc,1=x', `Attribute expected, but found invalid character "'1'".`],
    ['n,x,n=,r=abc', `Unexpected attribute "'x'" in client-first-message.`],
    ['', 'The message is empty.'],
    [Buffer.from('n,,n=,r=a\0bc', 'latin1'), 'Message length does not match input length.'],
    ['p=tls-server-end-point,,n=,r=abc', 'The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.'],
  ])('client-first %j: malformed SCRAM message, %s', (message, detail) => {
    const error = expectError(first(message), 'malformed-message', '08P01');
    expect(error.message).toBe('malformed SCRAM message');
    expect(error.detail).toBe(detail);
  });

  it('ignores optional extensions after the nonce', () => {
    expect(first('n,,n=,r=abc,x=1,y=2').ok).toBe(true);
  });

  it('refuses an authorization identity and mandatory extensions with 0A000', () => {
    expectError(first('n,a=bob,n=,r=abc'), 'authzid-unsupported', '0A000');
    expectError(first('n,,m=ext,n=,r=abc'), 'extension-unsupported', '0A000');
  });

  it('refuses a nonce with non-printable characters', () => {
    expectError(first('n,,n=,r=ab\u0001c'), 'non-printable-nonce', '08P01');
    expectError(first('n,,n=,r=ab\u00e9c'), 'non-printable-nonce', '08P01');
  });

  it('checks the mechanism against the channel binding available', () => {
    const cbind = randomBytes(32);
    expectError(first('p=tls-server-end-point,,n=,r=abc', SCRAM_SHA_256_PLUS), 'invalid-mechanism', '08P01');
    expectError(first('n,,n=,r=abc', 'SCRAM-SHA-1'), 'invalid-mechanism', '08P01');
    const e = expectError(first('n,,n=,r=abc', SCRAM_SHA_256_PLUS, cbind), 'malformed-message', '08P01');
    expect(e.detail).toMatch(/does not include channel binding data/);
    const t = expectError(first('p=tls-unique,,n=,r=abc', SCRAM_SHA_256_PLUS, cbind), 'unsupported-channel-binding-type', '08P01');
    expect(t.message).toBe('unsupported SCRAM channel-binding type "tls-unique"');
    expect(first('p=tls-server-end-point,,n=,r=abc', SCRAM_SHA_256_PLUS, cbind).ok).toBe(true);
  });

  /** A server after a valid client-first, plus the combined nonce it chose. */
  function afterFirst(clientFirst = 'n,,n=,r=clientnonce'): { server: ScramServerSession; nonce: string } {
    const server = new ScramServerSession(verifier, 'alice');
    const r = server.handleClientFirst(SCRAM_SHA_256, Buffer.from(clientFirst));
    if (!r.ok) throw r.error;
    return { server, nonce: /^r=([^,]+)/.exec(r.serverFirst.toString())![1]! };
  }
  const proof = randomBytes(32).toString('base64');
  const final = (server: ScramServerSession, message: string) => server.handleClientFinal(Buffer.from(message, 'latin1'));

  it('refuses a client-final without a proof, with a bad proof, or with trailing garbage', () => {
    let s = afterFirst();
    expect(expectError(final(s.server, `c=biws,r=${s.nonce}`), 'malformed-message', '08P01').detail).toBe(
      'Attribute expected, but found end of string.',
    );
    s = afterFirst();
    expect(expectError(final(s.server, `c=biws,r=${s.nonce},p=@@@@`), 'malformed-message', '08P01').detail).toBe(
      'Malformed proof in client-final-message.',
    );
    s = afterFirst();
    const short = randomBytes(16).toString('base64');
    expect(expectError(final(s.server, `c=biws,r=${s.nonce},p=${short}`), 'malformed-message', '08P01').detail).toBe(
      'Malformed proof in client-final-message.',
    );
    s = afterFirst();
    expect(expectError(final(s.server, `c=biws,r=${s.nonce},p=${proof},x=1`), 'malformed-message', '08P01').detail).toBe(
      'Garbage found at the end of client-final-message.',
    );
    s = afterFirst();
    expect(expectError(final(s.server, `r=${s.nonce},p=${proof}`), 'malformed-message', '08P01').detail).toBe(
      `Expected attribute "c" but found "'r'".`,
    );
  });

  it('refuses a channel-binding attribute that does not repeat the GS2 header', () => {
    const s = afterFirst();
    const error = expectError(final(s.server, `c=eSws,r=${s.nonce},p=${proof}`), 'unexpected-channel-binding', '08P01');
    expect(error.message).toBe('unexpected SCRAM channel-binding attribute in client-final-message');
  });

  it('refuses a wrong nonce', () => {
    for (const make of [(n: string) => `${n}x`, (n: string) => n.slice(0, -1), () => 'clientnonce']) {
      const s = afterFirst();
      const error = expectError(final(s.server, `c=biws,r=${make(s.nonce)},p=${proof}`), 'nonce-mismatch', '08P01');
      expect([error.message, error.detail]).toEqual(['invalid SCRAM response', 'Nonce does not match.']);
    }
  });

  it('refuses a client-final replayed from another exchange', async () => {
    const session = pgSasl.startSession([SCRAM_SHA_256]);
    const original = new ScramServerSession(verifier, 'alice');
    const r = original.handleClientFirst(SCRAM_SHA_256, Buffer.from(session.response));
    if (!r.ok) throw r.error;
    const clientFirst = session.response;
    await pgSasl.continueSession(session, PASSWORD, r.serverFirst.toString());
    expect(original.handleClientFinal(Buffer.from(session.response)).ok).toBe(true);

    // An eavesdropper replays both client messages to a new session: the server nonce differs.
    const replay = new ScramServerSession(verifier, 'alice');
    expect(replay.handleClientFirst(SCRAM_SHA_256, Buffer.from(clientFirst)).ok).toBe(true);
    expectError(replay.handleClientFinal(Buffer.from(session.response)), 'nonce-mismatch', '08P01');
  });

  it('refuses calls out of order, and any call after the exchange ended', () => {
    const server = new ScramServerSession(verifier, 'alice');
    expectError(server.handleClientFinal(Buffer.from('c=biws,r=x,p=y')), 'out-of-order', '08P01');
    const s = afterFirst();
    expectError(s.server.handleClientFirst(SCRAM_SHA_256, Buffer.from('n,,n=,r=abc')), 'out-of-order', '08P01');
    expectError(final(s.server, `c=biws,r=${s.nonce}x,p=${proof}`), 'nonce-mismatch', '08P01');
    expectError(final(s.server, `c=biws,r=${s.nonce},p=${proof}`), 'out-of-order', '08P01');
    expect(s.server.finished).toBe(true);
  });

  it('round-trips with pgspec\'s own client, with and without channel binding', () => {
    const cbind = randomBytes(48);
    for (const channelBinding of [undefined, cbind]) {
      const server = new ScramServerSession(verifier, 'alice', channelBinding ? { channelBinding } : {});
      const client = new ScramClientSession({
        password: PASSWORD,
        mechanisms: ScramServerSession.mechanisms(channelBinding !== undefined),
        ...(channelBinding ? { channelBinding } : {}),
      });
      expect(client.mechanism).toBe(channelBinding ? SCRAM_SHA_256_PLUS : SCRAM_SHA_256);
      const sf = server.handleClientFirst(client.mechanism, client.clientFirst());
      if (!sf.ok) throw sf.error;
      const fin = server.handleClientFinal(client.handleServerFirst(sf.serverFirst));
      if (!fin.ok) throw fin.error;
      client.verifyServerFinal(fin.serverFinal);
    }
  });
});
