/** node-postgres's own SCRAM client (pg/lib/crypto/sasl.js), typed for the tests. */
import { createRequire } from 'node:module';

export interface PgSaslSession {
  mechanism: string;
  clientNonce: string;
  response: string;
  message: string;
}

/** What pg passes as `stream`: only getPeerCertificate().raw is used (for -PLUS). */
export interface PgSaslStream {
  getPeerCertificate(): { raw: Buffer };
}

interface PgSasl {
  startSession(mechanisms: string[], stream?: PgSaslStream | boolean): PgSaslSession;
  continueSession(session: PgSaslSession, password: string, serverData: string, stream?: PgSaslStream | boolean): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
}

export const pgSasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as PgSasl;
