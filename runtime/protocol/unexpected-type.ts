/**
 * A type byte the decoder cannot place (unknown, or a contextual byte such as 'p' outside the
 * state that gives it a meaning) is a message the current state does not allow: answered as the
 * state machine says (PostgreSQL: FATAL 08P01 "invalid frontend message type N"), not with the
 * decoder's own wording. Such bytes cannot be skipped, so the answer always ends the connection.
 */
import { MESSAGES, STATE_MACHINE } from '../../generated/index.js';
import type { ProtocolDecodeError } from '../wire/index.js';
import type { ErrorInfo } from './error-fields.js';
import type { StateMachine } from './state-machine.js';

export function unexpectedTypeError(err: ProtocolDecodeError, fsm: StateMachine): ErrorInfo | undefined {
  let name: string;
  let byte: number | undefined;
  if (err.code === 'unexpected-context') {
    // Named after the messages sharing the byte ("GSSResponse|PasswordMessage|..."): none is expected.
    name = err.messageName.split('|')[0]!;
    byte = MESSAGES[name]?.typeByte?.charCodeAt(0);
  } else if (err.code === 'unknown-type') {
    // The decoder names an unknown byte as 'c' (printable) or 0xNN.
    name = err.messageName;
    const quoted = /^'(.)'$/.exec(name);
    byte = quoted ? quoted[1]!.charCodeAt(0) : /^0x[0-9a-f]{2}$/i.test(name) ? Number.parseInt(name.slice(2), 16) : undefined;
  } else {
    return undefined;
  }
  if (byte === undefined || fsm.info.framing !== 'typed') return undefined;
  const v = fsm.received(name, { byte });
  fsm.force(STATE_MACHINE.final);
  return v.action === 'reject' ? { severity: 'FATAL', code: v.sqlstate, message: v.message } : undefined;
}
