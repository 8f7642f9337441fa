import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../runtime/auth/errors.js';
import {
  createScramVerifier,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  ScramClientSession,
  type ScramClientOptions,
} from '../../runtime/auth/scram.js';

const both = [SCRAM_SHA_256_PLUS, SCRAM_SHA_256];

function catchAuthError(f: () => unknown): AuthError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    return error as AuthError;
  }
  throw new Error('expected an AuthError');
}

describe('ScramClientSession', () => {
  it('chooses the mechanism and GS2 header like libpq', () => {
    const cb = randomBytes(32);
    const header = (o: Omit<ScramClientOptions, 'password'>) => {
      const s = new ScramClientSession({ password: 'pw', ...o });
      return [s.mechanism, s.clientFirst().toString().split(',')[0]];
    };
    expect(header({ mechanisms: both, channelBinding: cb })).toEqual([SCRAM_SHA_256_PLUS, 'p=tls-server-end-point']);
    expect(header({ mechanisms: [SCRAM_SHA_256], channelBinding: cb })).toEqual([SCRAM_SHA_256, 'y']);
    expect(header({ mechanisms: both })).toEqual([SCRAM_SHA_256, 'n']);
    expect(header({ mechanisms: both, channelBinding: cb, channelBindingMode: 'disable' })).toEqual([SCRAM_SHA_256, 'n']);
  });

  it('sends an empty user name and an 18-byte base64 nonce', () => {
    const first = new ScramClientSession({ password: 'pw', mechanisms: both }).clientFirst().toString();
    expect(first).toMatch(/^n,,n=,r=[A-Za-z0-9+/]{24}$/);
  });

  it('refuses to run without channel binding when it is required', () => {
    const e1 = catchAuthError(() => new ScramClientSession({ password: 'pw', mechanisms: [SCRAM_SHA_256], channelBinding: randomBytes(32), channelBindingMode: 'require' }));
    expect(e1.reason).toBe('no-usable-mechanism');
    const e2 = catchAuthError(() => new ScramClientSession({ password: 'pw', mechanisms: both, channelBindingMode: 'require' }));
    expect(e2.reason).toBe('no-usable-mechanism');
    const e3 = catchAuthError(() => new ScramClientSession({ password: 'pw', mechanisms: ['OAUTHBEARER'] }));
    expect(e3.message).toBe("none of the server's SASL authentication mechanisms are supported");
  });

  /** A client that has sent its client-first, and its nonce. */
  function started(options: Partial<ScramClientOptions> = {}): { client: ScramClientSession; nonce: string } {
    const client = new ScramClientSession({ password: 'pw', mechanisms: [SCRAM_SHA_256], ...options });
    const nonce = /r=(.+)$/.exec(client.clientFirst().toString())![1]!;
    return { client, nonce };
  }
  const salt = randomBytes(16).toString('base64');

  it.each([
    ['a foreign nonce', () => `r=${'A'.repeat(48)},s=${salt},i=4096`, 'server-nonce-mismatch'],
    ['the client nonce alone', (n: string) => `r=${n},s=${salt},i=4096`, 'server-nonce-mismatch'],
    ['a missing salt', (n: string) => `r=${n}abc,i=4096`, 'malformed-message'],
    ['a salt that is not base64', (n: string) => `r=${n}abc,s=@@,i=4096`, 'malformed-message'],
    ['iterations 0', (n: string) => `r=${n}abc,s=${salt},i=0`, 'malformed-message'],
    ['iterations not a number', (n: string) => `r=${n}abc,s=${salt},i=4k`, 'malformed-message'],
    ['trailing attributes', (n: string) => `r=${n}abc,s=${salt},i=4096,x=1`, 'malformed-message'],
    ['a mandatory extension', (n: string) => `m=x,r=${n}abc,s=${salt},i=4096`, 'malformed-message'],
  ])('refuses a server-first-message with %s', (_name, build, reason) => {
    const { client, nonce } = started();
    expect(catchAuthError(() => client.handleServerFirst(Buffer.from(build(nonce)))).reason).toBe(reason);
  });

  it('enforces maxIterations when set', () => {
    const { client, nonce } = started({ maxIterations: 10_000 });
    expect(catchAuthError(() => client.handleServerFirst(Buffer.from(`r=${nonce}abc,s=${salt},i=100000`))).reason).toBe(
      'iteration-count-too-high',
    );
  });

  it('refuses a wrong server signature, a server error and a malformed server-final', () => {
    const run = (final: string) => {
      const { client, nonce } = started();
      client.handleServerFirst(Buffer.from(`r=${nonce}abc,s=${salt},i=16`));
      return catchAuthError(() => client.verifyServerFinal(Buffer.from(final)));
    };
    expect(run(`v=${randomBytes(32).toString('base64')}`).reason).toBe('server-signature-mismatch');
    expect(run('e=invalid-proof').message).toBe('error received from server in SCRAM exchange: invalid-proof');
    expect(run('v=@@').reason).toBe('malformed-message');
    expect(run(`v=${randomBytes(32).toString('base64')},x=1`).reason).toBe('malformed-message');
  });

  it('refuses calls out of order', () => {
    const client = new ScramClientSession({ password: 'pw', mechanisms: [SCRAM_SHA_256] });
    expect(catchAuthError(() => client.handleServerFirst(Buffer.from('r=x,s=AAAA,i=1'))).reason).toBe('out-of-order');
    expect(catchAuthError(() => client.verifyServerFinal(Buffer.from('v=AAAA'))).reason).toBe('out-of-order');
  });

  it('computes the proof RFC 7677 section 3 gives for its example', () => {
    // The RFC's example exchange, with the client nonce injected through the session's private field.
    const client = new ScramClientSession({ password: 'pencil', mechanisms: [SCRAM_SHA_256] });
    Object.assign(client, { clientNonce: 'rOprNGfwEbeRWgbNEkqO' });
    Object.assign(client, { gs2Header: 'n,,' });
    // The RFC's client-first-bare names user "user"; ours is empty, so recompute with the RFC's bare.
    Object.defineProperty(client, 'clientFirstBare', { get: () => 'n=user,r=rOprNGfwEbeRWgbNEkqO' });
    client.clientFirst();
    const final = client.handleServerFirst(
      Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
    );
    expect(final.toString()).toBe(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    client.verifyServerFinal(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='));
    // The same password and salt give the verifier the server would store.
    expect(createScramVerifier('pencil', { salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64') })).toMatch(/^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$/);
  });
});
