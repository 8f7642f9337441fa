/**
 * Protocol 3's `accept` and `startup` hooks: encryption negotiation (SSLRequest, GSSENCRequest,
 * TLS started directly), cancel requests, and the StartupMessage with version and option
 * negotiation, up to the login request authentication starts from.
 */
import type { Socket } from 'node:net';
import { DIRECT_TLS_ALPN, DIRECT_TLS_FIRST_BYTE, MESSAGES } from '../../generated/index.js';
import { stateError } from '../protocol/error-fields.js';
import type { Connection } from './connection.js';
import { wantsLegacyErrors } from '../protocol/legacy-error.js';
import { negotiateStartup } from './negotiate.js';
import { readMessage } from './postgres-input.js';
import { reject } from './postgres-reporting.js';
import { PostgresWire, type PostgresConfig } from './postgres-wire.js';
import type { LoginRequest, SharedServices } from './protocol-registry.js';
import { upgradeToTls } from './tls-upgrade.js';

type PgConnection = Connection<PostgresWire>;

export function accept(config: PostgresConfig): (socket: Socket, services: SharedServices) => PostgresWire {
  return (socket, services) => new PostgresWire(socket, services, config);
}

/** Runs the startup phase; the login request once a StartupMessage was accepted. */
export async function startup(c: PgConnection): Promise<LoginRequest | undefined> {
  const w = c.wire;
  const tls = c.services.tls;
  for (;;) {
    if (w.fsm.info.directTls && tls) {
      while (w.decoder.buffered === 0 && !w.input.ended) await w.input.waitForInput();
      if (w.decoder.buffered > 0) {
        const first = w.decoder.drain();
        if (first[0] === DIRECT_TLS_FIRST_BYTE) {
          w.fsm.force(w.fsm.info.directTls);
          if (!(await startTls(c, first))) return undefined;
          continue;
        }
        w.decoder.push(first);
      }
    }
    const m = await readMessage(c);
    if (m === undefined) return undefined;
    const v = w.fsm.received(m.type, { protocolCode: MESSAGES[m.type]?.code ?? (m.type === 'StartupMessage' ? m.protocolVersion : undefined) });
    if (v.action === 'reject') {
      reject(c, v);
      return undefined;
    }
    switch (m.type) {
      case 'SSLRequest':
        if (tls) {
          w.out.send({ type: 'SSLAccepted' });
          w.out.flush();
          // Bytes that came before the handshake were not protected. As PostgreSQL does, finish
          // the handshake first so the client can read why it is refused, then refuse them.
          const backlog = w.fsm.info.refusesPlaintextBacklog && w.decoder.drain().length > 0;
          if (!(await startTls(c, undefined))) return undefined;
          if (backlog) {
            c.fail(stateError('plaintextAfterEncryptionRequest'));
            return undefined;
          }
        } else {
          w.out.send({ type: 'SSLRejected' });
          w.out.flush();
        }
        break;
      case 'GSSENCRequest':
        w.out.send({ type: 'GSSENCRejected' });
        w.out.flush();
        break;
      case 'CancelRequest':
        c.services.cancels.cancel(m.processId, m.secretKey);
        return undefined;
      case 'StartupMessage': {
        const negotiated = negotiateStartup(m, w.config.claimableOptions);
        if ('error' in negotiated) {
          w.legacyErrors = wantsLegacyErrors(m.protocolVersion);
          c.fail(negotiated.error);
          return undefined;
        }
        const { negotiate, claimedOptions, ...login } = negotiated.ok;
        w.protocolVersion = login.protocolVersion;
        if (negotiate) w.out.send(negotiate);
        return { ...login, options: claimedOptions };
      }
      default:
        return undefined;
    }
  }
}

/** TLS over the connection; direct TLS (`clientHello` already read) must name PostgreSQL's ALPN protocol. */
async function startTls(c: PgConnection, clientHello: Uint8Array | undefined): Promise<boolean> {
  const w = c.wire;
  const secure = await upgradeToTls(w.input, c.services.tls!, clientHello === undefined ? {} : { clientHello, alpn: DIRECT_TLS_ALPN });
  if (secure === undefined) return false;
  w.out.socket = secure as unknown as Socket;
  if (clientHello !== undefined && secure.alpnProtocol !== DIRECT_TLS_ALPN) {
    c.fail(stateError('directTlsWithoutAlpn'));
    return false;
  }
  return true;
}
