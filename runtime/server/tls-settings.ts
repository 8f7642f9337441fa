/** Builds the TLS context and the channel-binding hash from a certificate and key (PEM). */
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { CertificateError, tlsServerEndPointHash } from '../auth/index.js';
import type { TlsSettings } from './connection.js';

export interface TlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export function tlsSettings(options: TlsOptions): TlsSettings {
  const secureContext = createSecureContext({ cert: options.cert, key: options.key, minVersion: 'TLSv1.2' });
  let channelBinding: Buffer | undefined;
  try {
    channelBinding = tlsServerEndPointHash(new X509Certificate(options.cert).raw);
  } catch (err) {
    // Certificates whose hash cannot be defined (Ed25519, Ed448) do TLS but not SCRAM-SHA-256-PLUS.
    if (!(err instanceof CertificateError)) throw err;
  }
  return { secureContext, channelBinding };
}
