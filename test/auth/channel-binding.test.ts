import { describe, expect, it } from 'vitest';
import {
  CertificateError,
  certificateSignatureHash,
  tlsServerEndPointAlgorithm,
  tlsServerEndPointHash,
} from '../../runtime/auth/channel-binding.js';
import { makeCertificate } from './certificates.js';

describe('tls-server-end-point hash', () => {
  it('RSA with SHA-256 hashes with SHA-256', () => {
    const cert = makeCertificate('rsa-sha256');
    expect(certificateSignatureHash(cert.der)).toBe('sha256');
    expect(tlsServerEndPointHash(cert.der)).toEqual(cert.fingerprint('sha256'));
  });

  it('RSA with SHA-512 hashes with SHA-512', () => {
    const cert = makeCertificate('rsa-sha512');
    expect(tlsServerEndPointHash(cert.der)).toEqual(cert.fingerprint('sha512'));
  });

  it('ECDSA with SHA-384 hashes with SHA-384', () => {
    const cert = makeCertificate('ecdsa-sha384');
    expect(certificateSignatureHash(cert.der)).toBe('sha384');
    expect(tlsServerEndPointHash(cert.der)).toEqual(cert.fingerprint('sha384'));
  });

  it('RSA with SHA-1 is hashed with SHA-256 (RFC 5929 4.1)', () => {
    const cert = makeCertificate('rsa-sha1');
    expect(certificateSignatureHash(cert.der)).toBe('sha1');
    expect(tlsServerEndPointAlgorithm(cert.der)).toBe('sha256');
    expect(tlsServerEndPointHash(cert.der)).toEqual(cert.fingerprint('sha256'));
  });

  it('RSA-PSS takes the hash from the PSS parameters', () => {
    const cert = makeCertificate('rsa-pss-sha384');
    expect(certificateSignatureHash(cert.der)).toBe('sha384');
    expect(tlsServerEndPointHash(cert.der)).toEqual(cert.fingerprint('sha384'));
  });

  it('Ed25519 certificates cannot be used for channel binding', () => {
    const cert = makeCertificate('ed25519');
    expect(() => tlsServerEndPointHash(cert.der)).toThrow(CertificateError);
    expect(() => tlsServerEndPointHash(cert.der)).toThrow(/Ed25519.*not possible/);
  });

  it('rejects truncated or non-certificate DER without reading past the buffer', () => {
    const cert = makeCertificate('ecdsa-sha256');
    for (const cut of [0, 1, 4, 20, cert.der.length - 80]) {
      expect(() => tlsServerEndPointHash(cert.der.subarray(0, cut))).toThrow(CertificateError);
    }
    expect(() => tlsServerEndPointHash(Buffer.from('not a certificate'))).toThrow(CertificateError);
  });
});
