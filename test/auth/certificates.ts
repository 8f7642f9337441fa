/** Self-signed test certificates made with the openssl CLI, and openssl's view of them. */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type CertificateKind = 'rsa-sha256' | 'rsa-sha1' | 'rsa-sha512' | 'rsa-pss-sha384' | 'ecdsa-sha384' | 'ecdsa-sha256' | 'ed25519';

const REQ_ARGS: Record<CertificateKind, string[]> = {
  'rsa-sha256': ['-newkey', 'rsa:2048', '-sha256'],
  'rsa-sha1': ['-newkey', 'rsa:2048', '-sha1'],
  'rsa-sha512': ['-newkey', 'rsa:2048', '-sha512'],
  'rsa-pss-sha384': ['-newkey', 'rsa:2048', '-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1'],
  'ecdsa-sha384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-sha384'],
  'ecdsa-sha256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha256'],
  ed25519: ['-newkey', 'ed25519'],
};

export interface TestCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly der: Buffer;
  /** `openssl x509 -fingerprint -<digest>` as raw bytes. */
  fingerprint(digest: 'sha256' | 'sha384' | 'sha512'): Buffer;
}

export function makeCertificate(kind: CertificateKind): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'pgspec-cert-'));
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', ...REQ_ARGS[kind], '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'],
      { stdio: 'pipe' },
    );
    const certPem = readFileSync(cert, 'utf8');
    const keyPem = readFileSync(key, 'utf8');
    return {
      certPem,
      keyPem,
      der: new X509Certificate(certPem).raw,
      fingerprint(digest) {
        const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', `-${digest}`], { input: certPem }).toString();
        const hex = /Fingerprint=([0-9A-F:]+)/.exec(out)?.[1];
        if (!hex) throw new Error(`unexpected openssl output: ${out}`);
        return Buffer.from(hex.replaceAll(':', ''), 'hex');
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
