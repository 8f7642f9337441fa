/**
 * Reading frontend messages for protocol 3: each message is decoded in the framing and context
 * the current state gives. What cannot be read is answered here as PostgreSQL answers it: a
 * message out of turn before login is refused by its type byte; a bad frame ends the session; a
 * well-framed message with a bad body after login goes to the engine (see postgres-commands.ts).
 */
import type { FrontendMessage } from '../../generated/index.js';
import { ProtocolDecodeError, type DecodeContext } from '../wire/index.js';
import type { Verdict } from '../protocol/state-machine.js';
import { malformedMessage } from '../protocol/malformed-message.js';
import { unexpectedTypeError } from '../protocol/unexpected-type.js';
import { stateError, type ErrorInfo } from '../protocol/error-fields.js';
import type { Connection } from './connection.js';
import { MalformedInput, type PostgresWire } from './postgres-wire.js';
import { reject } from './postgres-reporting.js';

type PgConnection = Connection<PostgresWire>;

/**
 * The next frontend message; a MalformedInput for a well-framed message with a bad body after
 * login; undefined when there is no more (the client left, the connection is closing, or what
 * arrived ended the session, which has been reported).
 */
export async function readInput(c: PgConnection): Promise<FrontendMessage | MalformedInput | undefined> {
  const w = c.wire;
  if (w.stashed !== undefined) {
    const m = w.stashed;
    w.stashed = undefined;
    return m instanceof ProtocolDecodeError ? unreadable(c, m) : m;
  }
  for (;;) {
    // A peer that is gone can receive no answer: what it left buffered is not run.
    if (w.input.ended && !w.socket.writable) return undefined;
    const refused = refusedByTypeByte(c);
    if (refused !== undefined) {
      reject(c, refused);
      return undefined;
    }
    let m: FrontendMessage | undefined;
    try {
      m = decodeNext(c);
    } catch (err) {
      return unreadable(c, err);
    }
    if (m !== undefined) return m;
    if (w.input.ended || c.shuttingDown || c.closed) return undefined;
    await w.input.waitForInput();
  }
}

/** readInput where a bad body is not answered by the engine (before login): it ends the session. */
export async function readMessage(c: PgConnection): Promise<FrontendMessage | undefined> {
  const m = await readInput(c);
  if (m instanceof MalformedInput) {
    c.fail({ severity: 'FATAL', code: m.message.error.code, message: m.detail });
    return undefined;
  }
  return m;
}

/**
 * Decodes the next buffered message, if it is all there. Strings are checked to be UTF-8 once
 * the session's client_encoding is UTF8, as PostgreSQL checks them (never in startup packets).
 */
export function decodeNext(c: PgConnection): FrontendMessage | undefined {
  const w = c.wire;
  const info = w.fsm.info;
  w.decoder.framing = info.framing;
  const encoding = c.parameters.get('client_encoding');
  if (encoding !== w.clientEncoding) {
    w.clientEncoding = encoding;
    w.validateUtf8 = encoding !== undefined && /^(utf-?8|unicode)$/i.test(encoding);
  }
  w.decoder.context = decodeContext(w, info.contextual, w.validateUtf8);
  return w.decoder.next();
}

/** The decode context for this state, reused while nothing in it changes (no allocation per message). */
function decodeContext(w: PostgresWire, contextual: DecodeContext['contextual'], validateUtf8: boolean): DecodeContext {
  const last = w.decodeContext;
  if (last !== undefined && last.contextual === contextual && last.validateUtf8 === validateUtf8 && last.protocolVersion === w.protocolVersion) return last;
  return (w.decodeContext = { protocolVersion: w.protocolVersion, contextual, validateUtf8 });
}

/**
 * Before login PostgreSQL judges a message by its type byte, before reading its body: a
 * message out of turn is refused at once, whatever length it claims, so no client can make
 * the server buffer a body before it has authenticated.
 */
function refusedByTypeByte(c: PgConnection): Extract<Verdict, { action: 'reject' }> | undefined {
  const { fsm, decoder, config } = c.wire;
  const info = fsm.info;
  if (info.phase !== 'authentication' || info.speaker !== 'frontend' || info.framing !== 'typed') return undefined;
  const byte = decoder.peek();
  if (byte === undefined || info.contextual[String.fromCharCode(byte)] !== undefined) return undefined;
  const name = config.codecs.frontendTable.typed[byte]?.name;
  // Unknown bytes are refused by the decoder itself; a contextual byte with no meaning here too.
  if (name === undefined || name.includes('|') || info.recv[name]?.action === 'accept') return undefined;
  const v = fsm.received(name, { byte });
  return v.action === 'reject' ? v : undefined;
}

/** What bytes that do not decode lead to: a MalformedInput for the engine, or the end of the session. */
function unreadable(c: PgConnection, err: unknown): MalformedInput | undefined {
  if (!(err instanceof ProtocolDecodeError)) throw err;
  const w = c.wire;
  const phase = w.fsm.info.phase;
  if (phase === 'command' || phase === 'copy') {
    // After login a bad body fails only its message; before, it ends the session as PostgreSQL does.
    const name = err.typeByte === undefined ? undefined : w.config.codecs.frontendTable.typed[err.typeByte]?.name;
    const message = name === undefined ? undefined : malformedMessage(err, name as FrontendMessage['type']);
    if (message !== undefined) return new MalformedInput(message, err.typeByte!, err.message);
  }
  if ((err.code === 'invalid-length' || err.code === 'too-long') && phase !== 'authentication') {
    // A length that cannot be right: PostgreSQL only logs it and closes, sending nothing.
    c.close();
    return undefined;
  }
  c.fail(unexpectedTypeError(err, w.fsm) ?? startupLayoutError(err) ?? { severity: 'FATAL', code: err.sqlstate, message: err.message });
  return undefined;
}

/** A StartupMessage whose parameters do not decode: PostgreSQL has one answer for every way of it. */
function startupLayoutError(err: ProtocolDecodeError): ErrorInfo | undefined {
  if (err.messageName !== 'StartupMessage' || err.code === 'invalid-length' || err.code === 'too-long') return undefined;
  return stateError('invalidStartupPacketLayout');
}
