/**
 * The client half of authentication: answers each Authentication request the server sends with
 * the message it calls for (cleartext password, md5 hash, SCRAM-SHA-256 or -PLUS exchange), and
 * refuses to accept AuthenticationOk when the server skipped a step it owed (SCRAM's proof of the
 * password, channel binding the client required).
 */
import { Buffer } from 'node:buffer';
import type { BackendMessage, FrontendMessage } from '../../generated/index.js';
import { AuthError, SCRAM_SHA_256_PLUS, ScramClientSession, SQLSTATE, md5Response } from '../auth/index.js';

export interface ClientCredentials {
  readonly user: string;
  readonly password: string | undefined;
  /** tls-server-end-point hash of the server certificate, when on TLS. */
  readonly channelBinding: Buffer | undefined;
  readonly channelBindingMode: 'disable' | 'prefer' | 'require';
}

/** How the session authenticated: `trust`, `cleartext`, `md5`, `SCRAM-SHA-256` or `SCRAM-SHA-256-PLUS`. */
export type AuthenticationMethod = 'trust' | 'cleartext' | 'md5' | 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS';

export class ClientAuthenticator {
  method: AuthenticationMethod = 'trust';
  private scram: ScramClientSession | undefined;
  private scramVerified = false;

  constructor(private readonly credentials: ClientCredentials) {}

  /** The answer to an authentication request, or undefined when none is due. Throws AuthError. */
  respond(m: BackendMessage): FrontendMessage | undefined {
    switch (m.type) {
      case 'AuthenticationCleartextPassword':
        this.method = 'cleartext';
        return { type: 'PasswordMessage', password: this.password() };
      case 'AuthenticationMD5Password':
        this.method = 'md5';
        return { type: 'PasswordMessage', password: md5Response({ user: this.credentials.user, password: this.password() }, Buffer.from(m.salt)) };
      case 'AuthenticationSASL': {
        const scram = new ScramClientSession({
          password: this.password(),
          mechanisms: m.mechanisms,
          channelBinding: this.credentials.channelBinding,
          channelBindingMode: this.credentials.channelBindingMode,
        });
        this.scram = scram;
        this.method = scram.mechanism;
        return { type: 'SASLInitialResponse', mechanism: scram.mechanism, data: scram.clientFirst() };
      }
      case 'AuthenticationSASLContinue':
        return { type: 'SASLResponse', data: this.requireScram().handleServerFirst(Buffer.from(m.data)) };
      case 'AuthenticationSASLFinal':
        this.requireScram().verifyServerFinal(Buffer.from(m.data));
        this.scramVerified = true;
        return undefined;
      case 'AuthenticationOk':
        this.checkComplete();
        return undefined;
      case 'AuthenticationGSS':
      case 'AuthenticationSSPI':
      case 'AuthenticationKerberosV5':
        throw new AuthError(SQLSTATE.featureNotSupported, 'no-usable-mechanism', `authentication method ${m.type.slice('Authentication'.length)} is not supported by this client`);
      default:
        return undefined;
    }
  }

  private password(): string {
    if (this.credentials.password === undefined) {
      throw new AuthError(SQLSTATE.invalidPassword, 'wrong-password', 'the server asked for a password, but none was given');
    }
    return this.credentials.password;
  }

  private requireScram(): ScramClientSession {
    if (!this.scram) throw new AuthError(SQLSTATE.protocolViolation, 'out-of-order', 'SASL message without a SASL exchange');
    return this.scram;
  }

  private checkComplete(): void {
    if (this.scram && !this.scramVerified) {
      // A server that skips SCRAM's final message has not proved it knows the password.
      throw new AuthError(SQLSTATE.protocolViolation, 'out-of-order', 'server sent AuthenticationOk before completing the SCRAM exchange');
    }
    if (this.credentials.channelBindingMode === 'require' && this.method !== SCRAM_SHA_256_PLUS) {
      throw new AuthError(SQLSTATE.invalidAuthorizationSpecification, 'no-usable-mechanism', 'channel binding required, but the server authenticated the client without channel binding');
    }
  }
}
