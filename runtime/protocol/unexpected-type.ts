/**
 * A type byte the decoder cannot place (unknown, or a contextual byte such as 'p' outside the
 * state that gives it a meaning) is a message the current state does not allow: answered as the
 * state machine says (PostgreSQL: FATAL 08P01 "invalid frontend message type N"), not with the
 * decoder's own wording. Such bytes cannot be skipped, so the answer always ends the connection.
 */
import { STATE_MACHINE } from '../../generated/index.js';
import type { ProtocolDecodeError } from '../wire/index.js';
import type { ErrorInfo } from './error-fields.js';
import type { StateMachine } from './state-machine.js';

export function unexpectedTypeError(err: ProtocolDecodeError, fsm: StateMachine): ErrorInfo | undefined {
  if (err.code !== 'unexpected-context' && err.code !== 'unknown-type') return undefined;
  const byte = err.typeByte;
  if (byte === undefined || fsm.info.framing !== 'typed') return undefined;
  // A contextual byte is named after every message sharing it ("GSSResponse|PasswordMessage|...");
  // none is expected here, so any of them stands for the lot.
  const name = err.messageName.split('|')[0]!;
  const v = fsm.received(name, { byte });
  fsm.force(STATE_MACHINE.final);
  return v.action === 'reject' ? { severity: 'FATAL', code: v.sqlstate, message: v.message } : undefined;
}
