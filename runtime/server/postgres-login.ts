/**
 * Protocol 3's `authenticate` hook: runs the user's authentication exchange (authenticate.ts)
 * with the client, each answer read as the state machine expects it, and ends with
 * AuthenticationOk. A message out of turn is refused by the state machine in PostgreSQL's words
 * ("expected password response, got message type 81").
 */
import { TLSSocket } from 'node:tls';
import { MESSAGES } from '../../generated/index.js';
import { authenticate as runExchange } from './authenticate.js';
import type { Connection } from './connection.js';
import { readMessage } from './postgres-input.js';
import { reject } from './postgres-reporting.js';
import type { PostgresWire } from './postgres-wire.js';
import type { LoginRequest } from './protocol-registry.js';

type PgConnection = Connection<PostgresWire>;

export async function authenticate(c: PgConnection, login: LoginRequest): Promise<boolean> {
  const w = c.wire;
  const outcome = await runExchange(login.user, c.services.users, {
    send: (msg) => w.out.send(msg),
    read: async () => {
      w.out.flush();
      const msg = await readMessage(c);
      if (msg !== undefined) {
        const v = w.fsm.received(msg.type, { byte: MESSAGES[msg.type]?.typeByte?.charCodeAt(0) });
        if (v.action === 'reject') {
          reject(c, v);
          return undefined;
        }
      }
      return msg;
    },
    channelBinding: w.socket instanceof TLSSocket ? c.services.tls?.channelBinding : undefined,
  });
  if (!outcome.ok) {
    if (outcome.error) c.fail(outcome.error);
    else c.close();
    return false;
  }
  w.out.send({ type: 'AuthenticationOk' });
  return true;
}
