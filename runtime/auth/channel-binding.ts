/**
 * The `tls-server-end-point` channel-binding data (RFC 5929 section 4): a hash of the server's
 * DER certificate, using the hash of the certificate's own signature algorithm, except that MD5
 * and SHA-1 are replaced by SHA-256.
 *
 * PostgreSQL asks OpenSSL for the signature's digest (X509_get_signature_info), which for RSA-PSS
 * is the hash named in the PSS parameters, and which does not exist for Ed25519/Ed448: PostgreSQL
 * then cannot do channel binding. This module reads the signature algorithm with its own small DER
 * reader and applies the same rules.
 */
import { createHash } from 'node:crypto';

/** A certificate whose signature algorithm gives no hash usable for channel binding, or bad DER. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/** One DER element: its tag byte and where its contents lie in the buffer. */
interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

/** Reads the element at `offset`, checking every length against `limit` before trusting it. */
function readTlv(der: Buffer, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new CertificateError('truncated DER element');
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new CertificateError('multi-byte DER tags are not expected in a certificate header');
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new CertificateError('unsupported DER length encoding');
    if (start + count > limit) throw new CertificateError('truncated DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new CertificateError('DER element runs past its container');
  return { tag, start, end };
}

function expect(der: Buffer, offset: number, limit: number, tag: number, what: string): Tlv {
  const tlv = readTlv(der, offset, limit);
  if (tlv.tag !== tag) {
    throw new CertificateError(`expected ${what} (tag 0x${tag.toString(16)}), found tag 0x${tlv.tag.toString(16)}`);
  }
  return tlv;
}

function decodeOid(der: Buffer, tlv: Tlv): string {
  if (tlv.end === tlv.start) throw new CertificateError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = tlv.start; i < tlv.end; i++) {
    const byte = der[i]!;
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  if (der[tlv.end - 1]! & 0x80) throw new CertificateError('truncated OBJECT IDENTIFIER');
  const first = arcs.shift()!;
  const top = first < 80 ? Math.floor(first / 40) : 2;
  return [top, first - top * 40, ...arcs].join('.');
}

/** Hash OIDs (as in PSS parameters) to Node digest names. */
const HASH_OIDS: Readonly<Record<string, string>> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.5': 'sha512-224',
  '2.16.840.1.101.3.4.2.6': 'sha512-256',
  '2.16.840.1.101.3.4.2.7': 'sha3-224',
  '2.16.840.1.101.3.4.2.8': 'sha3-256',
  '2.16.840.1.101.3.4.2.9': 'sha3-384',
  '2.16.840.1.101.3.4.2.10': 'sha3-512',
};

/** Signature algorithm OIDs whose hash is fixed by the OID, to Node digest names. */
const SIGNATURE_OIDS: Readonly<Record<string, string>> = {
  // RSA PKCS#1 v1.5
  '1.2.840.113549.1.1.4': 'md5',
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.15': 'sha512-224',
  '1.2.840.113549.1.1.16': 'sha512-256',
  '2.16.840.1.101.3.4.3.13': 'sha3-224',
  '2.16.840.1.101.3.4.3.14': 'sha3-256',
  '2.16.840.1.101.3.4.3.15': 'sha3-384',
  '2.16.840.1.101.3.4.3.16': 'sha3-512',
  // ECDSA
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '2.16.840.1.101.3.4.3.9': 'sha3-224',
  '2.16.840.1.101.3.4.3.10': 'sha3-256',
  '2.16.840.1.101.3.4.3.11': 'sha3-384',
  '2.16.840.1.101.3.4.3.12': 'sha3-512',
  // DSA
  '1.2.840.10040.4.3': 'sha1',
  '2.16.840.1.101.3.4.3.1': 'sha224',
  '2.16.840.1.101.3.4.3.2': 'sha256',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

/** Algorithms that sign without a separate digest, so there is nothing to bind with. */
const NO_DIGEST_OIDS: Readonly<Record<string, string>> = {
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** The hash in RSASSA-PSS-params ([0] hashAlgorithm, DEFAULT sha1). */
function pssHash(der: Buffer, params: Tlv | undefined): string {
  if (!params) return 'sha1';
  if (params.tag !== 0x30) throw new CertificateError('RSASSA-PSS parameters are not a SEQUENCE');
  if (params.start === params.end) return 'sha1';
  const first = readTlv(der, params.start, params.end);
  if (first.tag !== 0xa0) return 'sha1'; // hashAlgorithm absent: the default
  const algorithm = expect(der, first.start, first.end, 0x30, 'hashAlgorithm AlgorithmIdentifier');
  const oid = decodeOid(der, expect(der, algorithm.start, algorithm.end, 0x06, 'hash OID'));
  const hash = HASH_OIDS[oid];
  if (!hash) throw new CertificateError(`unsupported RSA-PSS hash algorithm ${oid}`);
  return hash;
}

/**
 * The Node digest name of the hash used by the certificate's signature (md5, sha1, sha256, ...),
 * read from Certificate.signatureAlgorithm. Throws `CertificateError` if there is none.
 */
export function certificateSignatureHash(certDer: Buffer): string {
  const cert = expect(certDer, 0, certDer.length, 0x30, 'Certificate SEQUENCE');
  const tbs = expect(certDer, cert.start, cert.end, 0x30, 'tbsCertificate SEQUENCE');
  const algorithm = expect(certDer, tbs.end, cert.end, 0x30, 'signatureAlgorithm SEQUENCE');
  const oidTlv = expect(certDer, algorithm.start, algorithm.end, 0x06, 'signature algorithm OID');
  const oid = decodeOid(certDer, oidTlv);
  const params = oidTlv.end < algorithm.end ? readTlv(certDer, oidTlv.end, algorithm.end) : undefined;

  const fixed = SIGNATURE_OIDS[oid];
  if (fixed) return fixed;
  if (oid === RSASSA_PSS) return pssHash(certDer, params);
  const noDigest = NO_DIGEST_OIDS[oid];
  if (noDigest) {
    throw new CertificateError(
      `the certificate is signed with ${noDigest}, which has no separate hash algorithm, so tls-server-end-point ` +
        'channel binding (SCRAM-SHA-256-PLUS) is not possible with it; PostgreSQL cannot do it either',
    );
  }
  throw new CertificateError(`unsupported certificate signature algorithm ${oid}`);
}

/** The digest RFC 5929 prescribes for this certificate: its signature hash, MD5/SHA-1 → SHA-256. */
export function tlsServerEndPointAlgorithm(certDer: Buffer): string {
  const hash = certificateSignatureHash(certDer);
  return hash === 'md5' || hash === 'sha1' ? 'sha256' : hash;
}

/**
 * The `tls-server-end-point` channel-binding data for a DER certificate (e.g. `X509Certificate.raw`
 * or `TLSSocket.getPeerCertificate().raw`). Throws `CertificateError` for Ed25519/Ed448 and for
 * signature algorithms it does not know.
 */
export function tlsServerEndPointHash(certDer: Buffer): Buffer {
  return createHash(tlsServerEndPointAlgorithm(certDer)).update(certDer).digest();
}
