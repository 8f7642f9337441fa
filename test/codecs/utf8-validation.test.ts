/**
 * Text that is not UTF-8, decoded with `validateUtf8` (a server whose client speaks UTF8): the
 * decoder fails with `invalid-encoding`, SQLSTATE 22021, in PostgreSQL's words, naming the bytes
 * of the first ill-formed sequence as PostgreSQL 15 does (each expected message below is what
 * PostgreSQL answered to the same bytes in a Query). Without the flag, the same bytes decode to
 * U+FFFD as before.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOne, ProtocolDecodeError, StreamDecoder, type DecodeContext } from '../../runtime/wire/index.js';
import { FRONTEND_TABLE, PROTOCOL_3_0, type AnyMessage } from './support/codecs.js';

const STRICT: DecodeContext = { protocolVersion: PROTOCOL_3_0, validateUtf8: true };
const LAX: DecodeContext = { protocolVersion: PROTOCOL_3_0 };

const cstring = (bytes: Uint8Array): Buffer => Buffer.concat([bytes, Buffer.from([0])]);
/** A typed message: type byte, length, body. */
function typed(type: string, ...body: Buffer[]): Buffer {
  const head = Buffer.from([type.charCodeAt(0), 0, 0, 0, 0]);
  head.writeInt32BE(body.reduce((n, b) => n + b.length, 4), 1);
  return Buffer.concat([head, ...body]);
}
const query = (text: Uint8Array): Buffer => typed('Q', cstring(text));
/** A query `select '<bytes>'`, the shape the expectations were taken from PostgreSQL with. */
const quoted = (bytes: readonly number[]): Buffer => Buffer.concat([Buffer.from("select '"), Buffer.from(bytes), Buffer.from("'")]);

function decodeError(frame: Uint8Array, context: DecodeContext = STRICT): ProtocolDecodeError {
  try {
    decodeOne(FRONTEND_TABLE, frame, { context });
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolDecodeError);
    return err as ProtocolDecodeError;
  }
  throw new Error('decoded without error');
}

/** [what, the bytes inside the quotes, the bytes PostgreSQL names]. */
const ILL_FORMED: [string, number[], string][] = [
  ['a lone continuation byte', [0x61, 0x80, 0x62], '0x80'],
  ['a 2-byte sequence cut short by the quote', [0x61, 0xc3], '0xc3 0x27'],
  ['a 2-byte sequence cut short by ASCII', [0xc3, 0x28, 0x61], '0xc3 0x28'],
  ['a 3-byte sequence with a bad second byte', [0xe2, 0x28, 0xa1, 0x61], '0xe2 0x28 0xa1'],
  ['a 3-byte sequence cut short by the quote', [0xe2, 0x82], '0xe2 0x82 0x27'],
  ['a 4-byte sequence cut short by the quote', [0xf0, 0x9f, 0x98], '0xf0 0x9f 0x98 0x27'],
  ['a 4-byte sequence cut short by ASCII', [0xf0, 0x9f, 0x98, 0x78, 0x79], '0xf0 0x9f 0x98 0x78'],
  ['an overlong 2-byte form', [0xc0, 0xaf], '0xc0 0xaf'],
  ['an overlong 2-byte form with lead 0xc1', [0xc1, 0xbf], '0xc1 0xbf'],
  ['an overlong 3-byte form', [0xe0, 0x80, 0xaf], '0xe0 0x80 0xaf'],
  ['an overlong 4-byte form', [0xf0, 0x80, 0x80, 0xaf], '0xf0 0x80 0x80 0xaf'],
  ['a surrogate (U+D800)', [0x61, 0xed, 0xa0, 0x80], '0xed 0xa0 0x80'],
  ['a code point beyond U+10FFFF (lead 0xf4)', [0xf4, 0x90, 0x80, 0x80], '0xf4 0x90 0x80 0x80'],
  ['a code point beyond U+10FFFF (lead 0xf5)', [0xf5, 0x80, 0x80, 0x80], '0xf5 0x80 0x80 0x80'],
  ['a byte that never occurs (0xff)', [0xff, 0x61], '0xff'],
  ['an old 5-byte lead (0xf8)', [0xf8, 0x88, 0x80, 0x80, 0x80], '0xf8'],
  ['a surrogate after valid multibyte text', [...Buffer.from('é日😀'), 0xed, 0xa0, 0x80], '0xed 0xa0 0x80'],
  ['two bad sequences: the first is named', [0x80, 0xff], '0x80'],
];

describe('with validateUtf8, text that is not UTF-8 is 22021', () => {
  it.each(ILL_FORMED)('%s', (_what, bytes, shown) => {
    const frame = query(quoted(bytes));
    const err = decodeError(frame);
    expect(err.code).toBe('invalid-encoding');
    expect(err.sqlstate).toBe('22021');
    expect(err.messageName).toBe('Query');
    expect(err.message).toBe(`Query: invalid byte sequence for encoding "UTF8": ${shown}`);
    // The framing was sound, so the stream decoder hands back the whole message and moves on.
    expect(err.typeByte).toBe('Q'.charCodeAt(0));
    expect(Buffer.from(err.frame!)).toEqual(frame);
  });

  it('a string ending at the zero byte shows only the bytes before it', () => {
    expect(decodeError(query(Buffer.from([0x61, 0xe2, 0x28]))).message).toBe('Query: invalid byte sequence for encoding "UTF8": 0xe2 0x28');
    expect(decodeError(query(Buffer.from([0xf0, 0x9f]))).message).toBe('Query: invalid byte sequence for encoding "UTF8": 0xf0 0x9f');
  });

  it('shows as many bytes as the lead byte announces, whatever they are', () => {
    const long = Buffer.from([0xf0, 0x28, ...Buffer.from('x'.repeat(20))]);
    expect(decodeError(query(long)).message).toBe('Query: invalid byte sequence for encoding "UTF8": 0xf0 0x28 0x78 0x78');
  });

  it('checks every string field of every message, short or long', () => {
    const bad = Buffer.from([0xed, 0xa0, 0x80]);
    const parse = typed('P', cstring(bad), cstring(Buffer.from('select 1')), Buffer.from([0, 0]));
    expect(decodeError(parse).message).toBe('Parse: invalid byte sequence for encoding "UTF8": 0xed 0xa0 0x80');
    const longName = Buffer.concat([Buffer.from('x'.repeat(100)), bad]);
    const bind = typed('B', cstring(Buffer.from('')), cstring(longName), Buffer.alloc(6));
    expect(decodeError(bind).messageName).toBe('Bind');
    const describe = typed('D', Buffer.from('S'), cstring(Buffer.from([0x80])));
    expect(decodeError(describe).message).toBe('Describe: invalid byte sequence for encoding "UTF8": 0x80');
  });

  it('is still 08P01 for the other decode errors', () => {
    const unterminated = typed('Q', Buffer.from([0xe2, 0x28]));
    const err = decodeError(unterminated);
    expect(err.code).toBe('unterminated-string');
    expect(err.sqlstate).toBe('08P01');
  });
});

/** Well-formed text, short (decoded in JavaScript) and long (through Buffer). */
const WELL_FORMED = [
  '',
  'select 1',
  'é',
  'café',
  '日本語',
  '😀',
  'a replacement character sent on purpose: \uFFFD',
  '\uFFFD',
  '\u{10FFFF} the last code point',
  '\uD7FF\uE000 around the surrogates',
  '\u0080\u07FF\u0800\uFFFF\u{10000} every boundary',
  `${'x'.repeat(500)}größer`,
];

/** Text of any code points but NUL, lone surrogates included (a JavaScript string may hold them; they are sent as U+FFFD). */
const CODE_POINTS = fc
  .array(fc.oneof(fc.integer({ min: 1, max: 0x7f }), fc.integer({ min: 0x80, max: 0x10ffff })), { maxLength: 40 })
  .map((points) => points.map((c) => String.fromCodePoint(c)).join(''));

describe('with validateUtf8, well-formed text decodes as without it', () => {
  it.each(WELL_FORMED)('%j', (text) => {
    const frame = query(Buffer.from(text));
    expect(decodeOne(FRONTEND_TABLE, frame, { context: STRICT })).toEqual({ type: 'Query', query: text });
  });

  it('any string a client can encode (property)', () => {
    fc.assert(
      fc.property(CODE_POINTS, (text) => {
        const frame = query(Buffer.from(text));
        expect(decodeOne(FRONTEND_TABLE, frame, { context: STRICT })).toEqual(decodeOne(FRONTEND_TABLE, frame, { context: LAX }));
      }),
    );
  });
});

describe('the first ill-formed sequence, against an independent oracle (property)', () => {
  /** Well-formed UTF-8 is exactly what survives a decode/encode round trip through Buffer (WHATWG). */
  const roundTrips = (b: Buffer): boolean => Buffer.from(b.toString('utf8')).equals(b);

  it('rejects exactly what does not round-trip, naming the byte after the longest well-formed prefix', () => {
    const char = fc.integer({ min: 1, max: 0x10ffff }).map((c) => [...Buffer.from(String.fromCodePoint(c))]);
    const fragment = fc.oneof(
      { arbitrary: char, weight: 8 },
      { arbitrary: char.filter((b) => b.length > 1).map((b) => b.slice(0, -1)), weight: 1 },
      { arbitrary: fc.integer({ min: 1, max: 255 }).map((b) => [b]), weight: 1 },
      { arbitrary: fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff).map((b) => [b]), weight: 1 },
    );
    const bytes = fc.array(fragment, { maxLength: 10 }).map((parts) => Buffer.from(parts.flat()));
    fc.assert(
      fc.property(bytes, (b) => {
        const frame = query(b);
        if (roundTrips(b)) {
          expect((decodeOne(FRONTEND_TABLE, frame, { context: STRICT }) as AnyMessage).query).toBe(b.toString('utf8'));
          return;
        }
        let prefix = b.length - 1;
        while (!roundTrips(b.subarray(0, prefix))) prefix--;
        const err = decodeError(frame);
        expect(err.code).toBe('invalid-encoding');
        expect(err.message.startsWith(`Query: invalid byte sequence for encoding "UTF8": 0x${b[prefix]!.toString(16).padStart(2, '0')}`)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('without validateUtf8', () => {
  it.each(ILL_FORMED)('%s decodes to replacement characters, as before', (_what, bytes) => {
    const text = quoted(bytes);
    const m = decodeOne(FRONTEND_TABLE, query(text), { context: LAX }) as AnyMessage;
    expect(m.query).toBe(text.toString('utf8'));
    expect(m.query).toContain('\uFFFD');
  });
});

describe('the stream decoder', () => {
  it('takes the flag from its context at each message, so a connection can turn it on after startup', () => {
    const bad = query(Buffer.from([0x80]));
    const decoder = new StreamDecoder<AnyMessage>(FRONTEND_TABLE, { context: LAX });
    decoder.push(Buffer.concat([bad, bad, query(Buffer.from('ok'))]));
    expect(decoder.next()).toEqual({ type: 'Query', query: '\uFFFD' });
    decoder.context = STRICT;
    expect(() => decoder.next()).toThrow('invalid byte sequence for encoding "UTF8": 0x80');
    // The bad message was consumed whole: the next one decodes.
    expect(decoder.next()).toEqual({ type: 'Query', query: 'ok' });
  });
});
