/**
 * Bad bytes give a ProtocolDecodeError with the right code, naming the message — never another
 * exception, never a wait for (or an allocation of) a length nobody has checked.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBackend, encodeFrontend, MESSAGES, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import { encodeExtendProtocol, type ExtendProtocol } from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { ProtocolDecodeError, Reader, StreamDecoder, Writer, type DecodeContext, type DecodeErrorCode, type DirectionTable, type Framing } from '../../runtime/wire/index.js';
import { messageArb } from './support/arbitraries.js';
import { BACKEND_TABLE, bodyDecoderOf, encode, EXTENDED_BACKEND_TABLE, FRONTEND_TABLE, hex, MODEL, PROTOCOL_3_0, PROTOCOL_3_2, type AnyMessage } from './support/codecs.js';

// ---- a tiny builder, so the bad bytes read like the spec ---------------------------------------
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const str = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
const raw = (s: string): Buffer => Buffer.from(s, 'latin1');
/** A typed message with the right length. */
const typed = (type: string, ...body: Buffer[]): Buffer => {
  const b = Buffer.concat(body);
  return Buffer.concat([raw(type), i32(b.length + 4), b]);
};
/** A typed message header claiming `len`, followed by `body` (which may disagree). */
const header = (type: string, len: number, ...body: Buffer[]): Buffer => Buffer.concat([raw(type), i32(len), ...body]);
const startup = (...body: Buffer[]): Buffer => {
  const b = Buffer.concat(body);
  return Buffer.concat([i32(b.length + 4), b]);
};

interface Where {
  table: DirectionTable<AnyMessage>;
  framing?: Framing;
  context?: DecodeContext;
}
const F: Where = { table: FRONTEND_TABLE };
const FS: Where = { table: FRONTEND_TABLE, framing: 'startup' };
const Fp = (name: string): Where => ({ table: FRONTEND_TABLE, context: { protocolVersion: PROTOCOL_3_0, contextual: { p: name } } });
const B: Where = { table: BACKEND_TABLE };
const B30: Where = { table: BACKEND_TABLE, context: { protocolVersion: PROTOCOL_3_0 } };
const B32: Where = { table: BACKEND_TABLE, context: { protocolVersion: PROTOCOL_3_2 } };

/** Pushes the bytes and reads every message; returns the error thrown (failing if none or another type). */
function failure(where: Where, bytes: Uint8Array): ProtocolDecodeError {
  const d = new StreamDecoder(where.table, { framing: where.framing, context: where.context });
  d.push(bytes);
  try {
    while (d.next() !== undefined) {
      /* keep reading */
    }
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolDecodeError);
    return err as ProtocolDecodeError;
  }
  throw new Error(`no error for ${hex(bytes)}; ${d.buffered} bytes still buffered`);
}

function decodesAll(where: Where, bytes: Uint8Array): AnyMessage[] {
  const d = new StreamDecoder(where.table, { framing: where.framing, context: where.context });
  d.push(bytes);
  const out: AnyMessage[] = [];
  for (let m = d.next(); m !== undefined; m = d.next()) out.push(m);
  expect(d.buffered).toBe(0);
  return out;
}

type Case = [title: string, where: Where, bytes: Buffer, code: DecodeErrorCode, messageName: string | RegExp];

const cases: Case[] = [
  // truncated bodies: the length is honest, the fields need more than it holds
  ['Execute without its row limit', F, typed('E', str('portal')), 'truncated', 'Execute'],
  ['Bind with one parameter and no value', F, typed('B', str(''), str(''), u16(0), u16(1), i32(4), raw('ab'), u16(0)), 'truncated', 'Bind'],
  ['Bind without result formats', F, typed('B', str(''), str(''), u16(0), u16(0)), 'truncated', 'Bind'],
  ['ReadyForQuery without status', B, typed('Z'), 'truncated', 'ReadyForQuery'],
  ['RowDescription column cut short', B, typed('T', u16(2), str('c'), u32(0), i16(0), u32(23), i16(4), i32(-1), i16(0), str('dd'), u32(0), i16(0), u32(23), i16(4), i32(-1)), 'truncated', 'RowDescription'],
  ['NotificationResponse without payload', B, typed('A', i32(1), str('chan')), 'unterminated-string', 'NotificationResponse'],
  ['ErrorResponse without its final zero', B, typed('E', raw('S'), str('ERROR')), 'truncated', 'ErrorResponse'],
  ['AuthenticationMD5Password with a 3-byte salt', B, typed('R', i32(5), raw('abc')), 'truncated', 'AuthenticationMD5Password'],
  ['an authentication request too short for its code', B, typed('R', raw('\0\0')), 'truncated', /Authentication/],
  ['StartupMessage without the final zero', FS, startup(i32(196608), str('user'), str('bob')), 'unterminated-string', 'StartupMessage'],
  // lengths under 4
  ['Query with length 3', F, header('Q', 3), 'invalid-length', 'Query'],
  ['Sync with length 0', F, header('S', 0), 'invalid-length', 'Sync'],
  ['DataRow with length -1', B, header('D', -1), 'invalid-length', 'DataRow'],
  ['CommandComplete with length -2147483648', B, header('C', -0x80000000), 'invalid-length', 'CommandComplete'],
  // negative lengths other than -1
  ['DataRow value of length -2', B, typed('D', u16(2), i32(-1), i32(-2)), 'negative-length', 'DataRow'],
  ['Bind parameter of length -7', F, typed('B', str(''), str(''), u16(0), u16(1), i32(-7), u16(0)), 'negative-length', 'Bind'],
  ['FunctionCall argument of length -2147483648', F, typed('F', u32(1), u16(0), u16(1), i32(-0x80000000), i16(0)), 'negative-length', 'FunctionCall'],
  ['SASLInitialResponse data of length -2', Fp('SASLInitialResponse'), typed('p', str('SCRAM-SHA-256'), i32(-2)), 'negative-length', 'SASLInitialResponse'],
  ['FunctionCallResponse of length -3', B, typed('V', i32(-3)), 'negative-length', 'FunctionCallResponse'],
  // lengths past the end
  ['DataRow value longer than the message', B, typed('D', u16(1), i32(100), raw('short')), 'truncated', 'DataRow'],
  ['SASLInitialResponse data longer than the message', Fp('SASLInitialResponse'), typed('p', str('SCRAM-SHA-256'), i32(50), raw('n,,')), 'truncated', 'SASLInitialResponse'],
  // counts larger than what remains
  ['Parse claiming 65535 parameter types', F, typed('P', str(''), str('SELECT $1'), u16(0xffff), u32(23)), 'count-exceeds-remaining', 'Parse'],
  ['Bind claiming 65535 parameters', F, typed('B', str(''), str(''), u16(0), u16(0xffff), i32(-1), u16(0)), 'count-exceeds-remaining', 'Bind'],
  ['Bind claiming 3 formats with 2 bytes', F, typed('B', str(''), str(''), u16(3), i16(0)), 'count-exceeds-remaining', 'Bind'],
  ['DataRow claiming 65535 values', B, typed('D', u16(0xffff), i32(-1)), 'count-exceeds-remaining', 'DataRow'],
  ['RowDescription claiming 2 columns with one', B, typed('T', u16(2), str('c'), u32(0), i16(0), u32(23), i16(4), i32(-1), i16(0)), 'count-exceeds-remaining', 'RowDescription'],
  ['NegotiateProtocolVersion claiming 2^32-1 options', B, typed('v', i32(196608), u32(0xffffffff), str('_pq_.x')), 'count-exceeds-remaining', 'NegotiateProtocolVersion'],
  ['ParameterDescription claiming 2 types with one', B, typed('t', u16(2), u32(23)), 'count-exceeds-remaining', 'ParameterDescription'],
  ['CopyInResponse claiming 10 formats', B, typed('G', Buffer.from([0]), u16(10), i16(0)), 'count-exceeds-remaining', 'CopyInResponse'],
  // unknown type bytes
  ["frontend 'Z'", F, typed('Z', raw('I')), 'unknown-type', "'Z'"],
  ["frontend 'e' (an extension's backend byte)", F, typed('e', i32(3)), 'unknown-type', "'e'"],
  ['frontend 0x00', F, Buffer.from([0]), 'unknown-type', '0x00'],
  ["backend 'Q'", B, typed('Q', str('SELECT 1')), 'unknown-type', "'Q'"],
  ['backend 0xff', B, Buffer.from([0xff, 0, 0, 0, 4]), 'unknown-type', '0xff'],
  // trailing bytes
  ['Sync with a body', F, typed('S', raw('x')), 'trailing-bytes', 'Sync'],
  ['Terminate with a body', F, typed('X', i32(0)), 'trailing-bytes', 'Terminate'],
  ['Query with bytes after its string', F, typed('Q', str('SELECT 1'), raw('junk')), 'trailing-bytes', 'Query'],
  ['ReadyForQuery with two status bytes', B, typed('Z', raw('II')), 'trailing-bytes', 'ReadyForQuery'],
  ['AuthenticationOk with four more bytes', B, typed('R', i32(0), i32(0)), 'trailing-bytes', 'AuthenticationOk'],
  ['AuthenticationSASL with bytes after its terminator', B, typed('R', i32(10), str('SCRAM-SHA-256'), Buffer.from([0]), raw('x')), 'trailing-bytes', 'AuthenticationSASL'],
  ['SSLRequest with bytes after the code', FS, startup(i32(80877103), i32(0)), 'trailing-bytes', 'SSLRequest'],
  ['PasswordMessage with bytes after the password', Fp('PasswordMessage'), typed('p', str('secret'), raw('x')), 'trailing-bytes', 'PasswordMessage'],
  // unterminated strings
  ['Query without its zero', F, typed('Q', raw('SELECT 1')), 'unterminated-string', 'Query'],
  ['ParameterStatus value without its zero', B, typed('S', str('TimeZone'), raw('UTC')), 'unterminated-string', 'ParameterStatus'],
  ['CommandComplete without its zero', B, typed('C', raw('SELECT 1')), 'unterminated-string', 'CommandComplete'],
  ['Close name without its zero', F, typed('C', raw('S'), raw('stmt')), 'unterminated-string', 'Close'],
  // startup packets
  ['startup packet of length 4', FS, i32(4), 'invalid-length', /startup/i],
  ['startup packet of length 7', FS, Buffer.concat([i32(7), raw('abc')]), 'invalid-length', /startup/i],
  ['startup packet of length -1', FS, i32(-1), 'invalid-length', /startup/i],
  ['startup packet of length 10001 (header only)', FS, i32(10001), 'invalid-length', /startup/i],
  ['startup packet of length 2^31-1 (header only)', FS, i32(0x7fffffff), 'invalid-length', /startup/i],
  // cancel keys
  ['BackendKeyData with a 5-byte key on 3.0', B30, typed('K', i32(1), raw('12345')), 'invalid-value', 'BackendKeyData'],
  ['BackendKeyData with a 3-byte key on 3.2', B32, typed('K', i32(1), raw('123')), 'invalid-value', 'BackendKeyData'],
  ['BackendKeyData with a 257-byte key on 3.2', B32, typed('K', i32(1), Buffer.alloc(257)), 'invalid-value', 'BackendKeyData'],
  ['CancelRequest with a 3-byte key', FS, startup(i32(80877102), i32(1), raw('abc')), 'invalid-value', 'CancelRequest'],
  ['CancelRequest with a 257-byte key', FS, startup(i32(80877102), i32(1), Buffer.alloc(257)), 'invalid-value', 'CancelRequest'],
  // context
  ["'p' outside authentication", F, typed('p', str('secret')), 'unexpected-context', /PasswordMessage/],
  ["'p' when the context names a non-'p' message", Fp('Query'), typed('p', str('secret')), 'unexpected-context', /PasswordMessage/],
  ['an authentication request with an unknown code', B, typed('R', i32(99)), 'unknown-code', /Authentication/],
];

describe('malformed messages', () => {
  it.each(cases)('%s', (_, where, bytes, code, messageName) => {
    const err = failure(where, bytes);
    expect({ code: err.code, sqlstate: err.sqlstate }).toEqual({ code, sqlstate: '08P01' });
    if (typeof messageName === 'string') expect(err.messageName).toBe(messageName);
    else expect(err.messageName).toMatch(messageName);
    expect(err.message.startsWith(`${err.messageName}: `)).toBe(true);
  });

  it('a BackendKeyData key of 5 bytes is fine on 3.2', () => {
    const [m] = decodesAll(B32, typed('K', i32(7), raw('12345')));
    expect(m).toMatchObject({ type: 'BackendKeyData', processId: 7 });
  });

  it('the right context decodes what no context refuses', () => {
    expect(decodesAll(Fp('PasswordMessage'), typed('p', str('secret')))).toEqual([{ type: 'PasswordMessage', password: 'secret' }]);
  });
});

describe('a length over the limit fails on the header alone', () => {
  const entries = (name: string, table: DirectionTable<AnyMessage>) =>
    table.typed.flatMap((e, byte) => (e === undefined ? [] : [[`${name} '${String.fromCharCode(byte)}' ${e.name}`, table, byte, e.limit] as const]));
  const all = [...entries('frontend', FRONTEND_TABLE), ...entries('backend', EXTENDED_BACKEND_TABLE)];

  it('every typed entry has the limit the spec gives its messages', () => {
    for (const [, table, byte, limit] of all) {
      const names = MODEL.messages.filter((m) => m.typeByte === String.fromCharCode(byte) && m.framing === 'typed' && m.directions.includes(table.direction));
      expect(names.length).toBeGreaterThan(0);
      const contextual = table.typed[byte]!.contextualLimits;
      for (const m of names) {
        // Messages told apart only by state each keep their own limit; the entry's is the largest.
        if (contextual) expect(m.limits[table.direction]!.value).toBe(contextual[m.name]);
        else expect(m.limits[table.direction]!.value).toBe(limit);
      }
      if (contextual) expect(limit).toBe(Math.max(...Object.values(contextual)));
    }
  });

  it.each(['PasswordMessage', 'GSSResponse', 'SASLInitialResponse', 'SASLResponse'])('a %s over its own limit fails on the header alone', (variant) => {
    const byte = 'p'.charCodeAt(0);
    const limit = FRONTEND_TABLE.typed[byte]!.contextualLimits![variant]!;
    const d = new StreamDecoder(FRONTEND_TABLE, { context: { protocolVersion: PROTOCOL_3_2, contextual: { p: variant } } });
    d.push(Buffer.concat([Buffer.from([byte]), i32(limit + 1)]));
    expect(() => d.next()).toThrow(ProtocolDecodeError);
    const d2 = new StreamDecoder(FRONTEND_TABLE, { context: { protocolVersion: PROTOCOL_3_2, contextual: { p: variant } } });
    d2.push(Buffer.concat([Buffer.from([byte]), i32(limit + 1)]));
    try {
      d2.next();
    } catch (e) {
      expect((e as ProtocolDecodeError).code).toBe('too-long');
      expect((e as ProtocolDecodeError).messageName).toBe(variant);
    }
  });

  it.each(all)('%s', (_, table, byte, limit) => {
    for (const len of [limit + 1, 0x7fffffff]) {
      if (len <= limit) continue;
      // No contextual choice: the entry's own (largest) limit applies.
      const d = new StreamDecoder(table, { context: { protocolVersion: PROTOCOL_3_2 } });
      d.push(Buffer.concat([Buffer.from([byte]), i32(len)]));
      let err: unknown;
      try {
        d.next();
      } catch (e) {
        err = e;
      }
      expect(err, `length ${len}`).toBeInstanceOf(ProtocolDecodeError);
      expect((err as ProtocolDecodeError).code).toBe('too-long');
      expect((err as ProtocolDecodeError).messageName).toBe(table.typed[byte]!.name);
    }
  });

  it('exactly at the limit it waits for the body instead', () => {
    const d = new StreamDecoder(FRONTEND_TABLE);
    d.push(Buffer.concat([raw('S'), i32(10000)]));
    expect(d.next()).toBeUndefined();
    expect(d.buffered).toBe(5);
  });

  it('an unknown type byte fails on its first byte, before any length', () => {
    const d = new StreamDecoder(BACKEND_TABLE);
    d.push(raw('Q'));
    expect(() => d.next()).toThrow(ProtocolDecodeError);
  });
});

// ---- fuzzing ------------------------------------------------------------------------------------

const contexts: DecodeContext[] = [
  { protocolVersion: PROTOCOL_3_0 },
  { protocolVersion: PROTOCOL_3_2 },
  ...['GSSResponse', 'PasswordMessage', 'SASLInitialResponse', 'SASLResponse'].map((p) => ({ protocolVersion: PROTOCOL_3_0, contextual: { p } })),
];
const places: { table: DirectionTable<AnyMessage>; framing: Framing; expectReply?: string }[] = [
  { table: FRONTEND_TABLE, framing: 'startup' },
  { table: FRONTEND_TABLE, framing: 'typed' },
  { table: BACKEND_TABLE, framing: 'typed' },
  { table: BACKEND_TABLE, framing: 'typed', expectReply: 'SSLRequest' },
  { table: EXTENDED_BACKEND_TABLE, framing: 'typed' },
];

function reencode(m: AnyMessage, direction: 'frontend' | 'backend'): string {
  const w = new Writer(16);
  if (m.type === 'ExtendProtocol') encodeExtendProtocol(w, m as unknown as ExtendProtocol);
  else if (direction === 'frontend') encodeFrontend(w, m as unknown as FrontendMessage);
  else encodeBackend(w, m as unknown as BackendMessage);
  return hex(w.take());
}

const hasReplacement = (v: unknown): boolean => JSON.stringify(v, (_, x: unknown) => (x instanceof Uint8Array ? undefined : typeof x === 'bigint' ? String(x) : x))?.includes('\ufffd') ?? false;

/**
 * Decodes everything it can; anything thrown must be a ProtocolDecodeError. Every message that
 * does decode must re-encode to exactly the bytes it came from (unless its text was not UTF-8).
 */
function survives(place: (typeof places)[number], context: DecodeContext, bytes: Uint8Array): void {
  const d = new StreamDecoder(place.table, { framing: place.framing, context });
  d.expectReply = place.expectReply;
  d.push(bytes);
  let pos = 0;
  try {
    for (;;) {
      const m = d.next();
      if (m === undefined) return;
      const end = bytes.length - d.buffered;
      if (!hasReplacement(m) && MESSAGES[m.type]?.framing !== 'reply') expect(reencode(m, place.table.direction)).toBe(hex(bytes.subarray(pos, end)));
      pos = end;
      if (m.type === 'StartupMessage') d.framing = 'typed';
    }
  } catch (err) {
    if (!(err instanceof ProtocolDecodeError)) throw err;
  }
}

describe('property: only ProtocolDecodeError, whatever the bytes', () => {
  it('random byte strings, in every table, framing and context', () => {
    fc.assert(
      fc.property(fc.constantFrom(...places), fc.constantFrom(...contexts), fc.uint8Array({ maxLength: 96 }), (place, context, bytes) => survives(place, context, bytes)),
      { numRuns: 3000 },
    );
  });

  it('random bytes after a plausible header', () => {
    const typedBytes = [...new Set([...FRONTEND_TABLE.typed, ...EXTENDED_BACKEND_TABLE.typed].flatMap((e, i) => (e ? [i % 256] : [])))];
    fc.assert(
      fc.property(fc.constantFrom(...places), fc.constantFrom(...contexts), fc.constantFrom(...typedBytes), fc.uint8Array({ maxLength: 80 }), (place, context, type, body) => {
        const bytes = place.framing === 'startup' ? Buffer.concat([i32(body.length + 4), body]) : Buffer.concat([Buffer.from([type]), i32(body.length + 4), body]);
        survives(place, context, bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('random mutations of valid encodings of every message', () => {
    const sources = MODEL.messages.flatMap((m) =>
      m.directions.map((dir) => ({
        m,
        place: places.find((p) => p.table.direction === dir && p.framing === m.framing && (m.extension === undefined || p.table === EXTENDED_BACKEND_TABLE))!,
      })),
    );
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
      fc.record({ kind: fc.constant('length' as const), delta: fc.integer({ min: -8, max: 8 }) }),
      fc.record({ kind: fc.constant('int' as const), at: fc.nat(), value: fc.constantFrom(-1, -2, 0, 1, 0x7fffffff, -0x80000000, 0xffff, 3) }),
    );
    const arb = fc.constantFrom(...sources).chain((s) => fc.tuple(fc.constant(s), messageArb(s.m), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.constantFrom(...contexts)));
    fc.assert(
      fc.property(arb, ([s, msg, mutations, context]) => {
        let bytes: Buffer = encode(msg);
        const lengthAt = s.m.framing === 'startup' ? 0 : 1;
        for (const mu of mutations) {
          const at = 'at' in mu ? mu.at % (bytes.length + 1) : 0;
          if (mu.kind === 'set' && at < bytes.length) bytes[at] = mu.value;
          else if (mu.kind === 'cut') bytes = bytes.subarray(0, at);
          else if (mu.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), mu.bytes, bytes.subarray(at)]);
          else if (mu.kind === 'length' && bytes.length >= lengthAt + 4) bytes.writeInt32BE((bytes.readInt32BE(lengthAt) + mu.delta) | 0, lengthAt);
          else if (mu.kind === 'int' && at + 4 <= bytes.length) bytes.writeInt32BE(mu.value | 0, at);
        }
        const ctx = s.m.contextual ? { ...context, contextual: { p: s.m.name } } : context;
        survives(s.place, ctx, bytes);
      }),
      { numRuns: 5000 },
    );
  });

  it("each message's body decoder, on random bodies", () => {
    const names = MODEL.messages.map((m) => m.name);
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.constantFrom(...contexts), fc.uint8Array({ maxLength: 64 }), (name, context, body) => {
        try {
          bodyDecoderOf(name)(new Reader(body, 0, body.length, name), context);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolDecodeError);
          expect((err as ProtocolDecodeError).messageName).toBe(name);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
