/**
 * A well-framed frontend message whose body did not decode, in PostgreSQL's words: the decoder
 * says what went wrong in its own terms (which field, how many bytes); PostgreSQL's reader
 * (pq_getmsg*) says it with one of a few texts, kept in the spec's state-machine errors.
 */
import { STATE_MACHINE, type FrontendMessage, type StateErrorName } from '../../generated/index.js';
import type { MalformedMessage } from '../engine.js';
import type { DecodeErrorCode, ProtocolDecodeError } from '../wire/index.js';

/** Which of PostgreSQL's texts each body error is; text that is not UTF-8 keeps the decoder's (already PostgreSQL's) wording. */
const WORDING: Partial<Record<DecodeErrorCode, StateErrorName>> = {
  'unterminated-string': 'invalidString',
  'trailing-bytes': 'invalidMessageFormat',
  truncated: 'insufficientData',
  'negative-length': 'insufficientData',
  'count-exceeds-remaining': 'insufficientData',
  'invalid-value': 'invalidMessageFormat',
  'unknown-code': 'invalidMessageFormat',
};

/**
 * The MalformedMessage for a decode error, when the error is in the body of a message whose
 * frame was sound (the decoder moved past it); undefined for a bad frame, an unknown type byte
 * or a message the state gives no meaning to, which the stream cannot get past.
 */
export function malformedMessage(err: ProtocolDecodeError, type: FrontendMessage['type']): MalformedMessage | undefined {
  if (err.frame === undefined) return undefined;
  if (err.code === 'invalid-encoding') return { type, frame: err.frame, error: { code: err.sqlstate, message: withoutMessageName(err) } };
  const name = WORDING[err.code];
  if (name === undefined) return undefined;
  const e = STATE_MACHINE.errors[name];
  return { type, frame: err.frame, error: { code: e.sqlstate, message: e.message } };
}

/** The decoder's text without the "Query: " it puts first. */
function withoutMessageName(err: ProtocolDecodeError): string {
  const prefix = `${err.messageName}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}
