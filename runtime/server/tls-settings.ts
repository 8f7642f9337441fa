/** Builds the TLS context and the channel-binding hash from a certificate and key (PEM). */
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { CertificateError, tlsServerEndPointHash } from '../auth/index.js';

/** A server's TLS, ready for connections: its context, and what channel binding needs. */
export interface TlsSettings {
  readonly secureContext: SecureContext;
  /** tls-server-end-point hash of the certificate, when channel binding is possible. */
  readonly channelBinding: Buffer | undefined;
}

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
