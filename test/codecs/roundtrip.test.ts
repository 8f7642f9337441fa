/**
 * Every message of the spec, both directions, the startup packets, the one-byte replies and the
 * Cloudberry extension: decode(encode(m)) is m, and encode(decode(bytes)) is bytes. Arbitraries
 * come from the spec model, so a message added to the spec is covered here automatically.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as codecs from '../../generated/index.js';
import * as cloudberry from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { decodeOne, ProtocolEncodeError, ValueList, Writer } from '../../runtime/wire/index.js';
import { messageArb } from './support/arbitraries.js';
import {
  BACKEND_TABLE,
  decodeBody,
  decodeWhole,
  encode,
  FRONTEND_TABLE,
  hex,
  MODEL,
  plain,
  PROTOCOL_3_0,
  PROTOCOL_3_2,
  type AnyMessage,
  type Direction,
} from './support/codecs.js';

const RUNS = Number(process.env.PGSPEC_FC_RUNS ?? 150);

function encodeWith(dir: Direction, m: AnyMessage): string {
  const w = new Writer(8);
  if (dir === 'frontend') codecs.encodeFrontend(w, m as unknown as codecs.FrontendMessage);
  else codecs.encodeBackend(w, m as unknown as codecs.BackendMessage);
  return hex(w.take());
}

describe('the catalog', () => {
  const infos = Object.values(codecs.MESSAGES);
  const framed = infos.filter((i) => i.framing !== 'reply');
  it('has 19 frontend-only, 31 backend-only and 2 two-way messages (52), plus 4 one-byte replies', () => {
    const only = (d: Direction) => framed.filter((i) => i.directions.length === 1 && i.directions[0] === d).length;
    expect(only('frontend')).toBe(19);
    expect(only('backend')).toBe(31);
    expect(framed.filter((i) => i.directions.length === 2).length).toBe(2);
    expect(framed.length).toBe(52);
    expect(infos.filter((i) => i.framing === 'reply').map((i) => i.name).sort()).toEqual(['GSSENCAccepted', 'GSSENCRejected', 'SSLAccepted', 'SSLRejected']);
  });

  it('lists the same messages as the spec model, and the extension adds ExtendProtocol', () => {
    const base = MODEL.messages.filter((m) => m.extension === undefined).map((m) => m.name);
    expect(framed.map((i) => i.name).sort()).toEqual([...base].sort());
    expect(Object.keys(cloudberry.MESSAGES)).toEqual(['ExtendProtocol']);
    expect(MODEL.messages.filter((m) => m.extension !== undefined).map((m) => m.name)).toEqual(['ExtendProtocol']);
  });
});

describe('property: decode(encode(m)) = m and encode(decode(bytes)) = bytes', () => {
  for (const m of MODEL.messages) {
    for (const dir of m.directions) {
      it(`${m.name} (${dir}${m.extension ? `, ${m.extension}` : ''})`, () => {
        fc.assert(
          fc.property(messageArb(m), (msg) => {
            const bytes = encode(msg);
            const viaTable = decodeWhole(m, dir, bytes);
            expect(plain(viaTable)).toEqual(plain(msg));
            expect(plain(decodeBody(m, bytes))).toEqual(plain(msg));
            expect(hex(encode(viaTable))).toBe(hex(bytes));
            if (m.extension === undefined) expect(encodeWith(dir, viaTable)).toBe(hex(bytes));
            // The header is right: type byte (typed) and a length that counts itself.
            const header = m.framing === 'startup' ? 0 : 1;
            if (m.framing === 'typed') expect(String.fromCharCode(bytes[0]!)).toBe(m.typeByte);
            expect(bytes.readInt32BE(header)).toBe(bytes.length - header);
          }),
          { numRuns: RUNS },
        );
      });
    }
  }

  for (const r of MODEL.replies) {
    it(`${r.name} (the one-byte answer to ${r.answers})`, () => {
      const bytes = encode({ type: r.name });
      expect(hex(bytes)).toBe(hex(Buffer.from(r.byte, 'latin1')));
      const decoded = decodeOne(BACKEND_TABLE, bytes, { expectReply: r.answers });
      expect(decoded).toEqual({ type: r.name });
      expect(hex(encode(decoded))).toBe(hex(bytes));
      expect(encodeWith('backend', decoded)).toBe(hex(bytes));
    });
  }
});

describe('boundaries', () => {
  const roundtrip = (dir: Direction, msg: AnyMessage, protocolVersion = PROTOCOL_3_2): AnyMessage => {
    const m = MODEL.messages.find((x) => x.name === msg.type)!;
    const bytes = encode(msg);
    const decoded = decodeWhole(m, dir, bytes, protocolVersion);
    expect(plain(decoded)).toEqual(plain(msg));
    expect(hex(encode(decoded))).toBe(hex(bytes));
    return decoded;
  };

  it('the largest counts an unsigned 16-bit count allows', () => {
    const oids = Array.from({ length: 0xffff }, (_, i) => (i * 2654435761) >>> 0);
    roundtrip('frontend', { type: 'Parse', statement: 'big', query: 'SELECT 1', parameterTypes: oids });
    const nulls = ValueList.from(new Array<null>(0xffff).fill(null));
    const formats = new Array<number>(0xffff).fill(1);
    const bind = roundtrip('frontend', { type: 'Bind', portal: '', statement: '', parameterFormats: formats, parameters: nulls, resultFormats: [] });
    expect((bind.parameters as ValueList).length).toBe(0xffff);
    const row = roundtrip('backend', { type: 'DataRow', values: ValueList.from(Array.from({ length: 0xffff }, (_, i) => (i % 3 === 0 ? null : String(i)))) });
    expect((row.values as ValueList).text(65532)).toBe(null);
    expect((row.values as ValueList).text(65533)).toBe('65533');
    // A backendSmall message (30000, libpq's limit for 't'): 7498 parameter types fit, as in libpq.
    roundtrip('backend', { type: 'ParameterDescription', parameterTypes: new Array<number>(7498).fill(0xffffffff) });
  });

  it('NULL, empty and non-empty values stay distinct', () => {
    const values = ValueList.from([null, '', 'x', new Uint8Array([0, 255]), null]);
    const row = roundtrip('backend', { type: 'DataRow', values });
    expect((row.values as ValueList).texts()).toEqual([null, '', 'x', '\u0000\ufffd', null]);
    expect((row.values as ValueList).toArray().map((v) => (v === null ? null : hex(v)))).toEqual([null, '', '78', '00ff', null]);
    roundtrip('backend', { type: 'FunctionCallResponse', result: null });
    roundtrip('backend', { type: 'FunctionCallResponse', result: new Uint8Array(0) });
    roundtrip('frontend', { type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: null });
    roundtrip('frontend', { type: 'SASLInitialResponse', mechanism: '', data: new Uint8Array(0) }, PROTOCOL_3_2);
  });

  it('integer extremes', () => {
    for (const maxRows of [-0x80000000, -1, 0, 0x7fffffff]) roundtrip('frontend', { type: 'Execute', portal: '', maxRows });
    roundtrip('frontend', { type: 'FunctionCall', functionOid: 0xffffffff, argumentFormats: [-0x8000, 0x7fff], arguments: ValueList.from([]), resultFormat: -1 });
    roundtrip('backend', {
      type: 'RowDescription',
      columns: [{ name: '', tableOid: 0xffffffff, columnNumber: -0x8000, typeOid: 0, typeSize: -1, typeModifier: -0x80000000, format: 0x7fff }],
    });
    roundtrip('backend', { type: 'CopyInResponse', format: -128, columnFormats: [] });
    roundtrip('backend', { type: 'NotificationResponse', processId: -0x80000000, channel: 'ch', payload: '' });
    roundtrip('backend', { type: 'NegotiateProtocolVersion', newestVersion: PROTOCOL_3_0, unrecognizedOptions: ['_pq_.a', '_pq_.日本'] });
  });

  it('unicode in every kind of string, and empty strings', () => {
    roundtrip('frontend', { type: 'Query', query: '' });
    roundtrip('frontend', { type: 'Query', query: "SELECT '👍🏽 日本語 ß'" });
    roundtrip('frontend', { type: 'StartupMessage', protocolVersion: PROTOCOL_3_0, parameters: [] });
    roundtrip('frontend', { type: 'StartupMessage', protocolVersion: PROTOCOL_3_2, parameters: [{ name: 'user', value: 'ünïcödé' }, { name: 'database', value: '' }] });
    roundtrip('backend', { type: 'ErrorResponse', fields: [] });
    roundtrip('backend', { type: 'NoticeResponse', fields: [{ code: 'M', value: '' }, { code: '\u00ff', value: '€' }] });
    roundtrip('backend', { type: 'AuthenticationSASL', mechanisms: [] });
    roundtrip('backend', { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] });
  });

  it('cancel keys: 4 bytes on 3.0, 4 to 256 bytes on 3.2', () => {
    roundtrip('backend', { type: 'BackendKeyData', processId: 1, secretKey: new Uint8Array(4).fill(7) }, PROTOCOL_3_0);
    roundtrip('backend', { type: 'BackendKeyData', processId: 1, secretKey: new Uint8Array(32).fill(7) }, PROTOCOL_3_2);
    roundtrip('backend', { type: 'BackendKeyData', processId: 1, secretKey: new Uint8Array(256).fill(7) }, PROTOCOL_3_2);
    roundtrip('frontend', { type: 'CancelRequest', processId: -1, secretKey: new Uint8Array(4) });
    roundtrip('frontend', { type: 'CancelRequest', processId: 0x7fffffff, secretKey: new Uint8Array(256).fill(1) });
  });
});

/**
 * An encoder must never write bytes that decode to something else: a value it cannot represent
 * is a ProtocolEncodeError (its documented contract: "out of range, wrong width"). These fail
 * today; see the report that came with them.
 */
describe('encoders refuse values they cannot represent', () => {
  const values = ValueList.from(new Array<null>(0x10000).fill(null));
  const encodeExtension = cloudberry.encodeExtendProtocol as unknown as (w: Writer, m: AnyMessage) => void;
  const cases: [string, AnyMessage][] = [
    ['DataRow with 65536 values', { type: 'DataRow', values }],
    ['Bind with 65536 parameters', { type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: values, resultFormats: [] }],
    ['FunctionCall with 65536 arguments', { type: 'FunctionCall', functionOid: 1, argumentFormats: [], arguments: values, resultFormat: 0 }],
    ['Execute maxRows 2^31 (int32)', { type: 'Execute', portal: '', maxRows: 2 ** 31 }],
    ['Parse parameter type -1 (uint32)', { type: 'Parse', statement: '', query: '', parameterTypes: [-1] }],
    ['Bind format 65536 (int16)', { type: 'Bind', portal: '', statement: '', parameterFormats: [0x10000], parameters: ValueList.from([]), resultFormats: [] }],
    ['CopyOutResponse format 300 (int8)', { type: 'CopyOutResponse', format: 300, columnFormats: [] }],
    ['Execute maxRows 1.5', { type: 'Execute', portal: '', maxRows: 1.5 }],
    ['Query holding NUL', { type: 'Query', query: 'SELECT 1\0; DROP TABLE t' }],
    ['StartupMessage value holding NUL', { type: 'StartupMessage', protocolVersion: PROTOCOL_3_0, parameters: [{ name: 'user', value: 'a\0database\0b' }] }],
    ['StartupMessage parameter with an empty name (the list terminator)', { type: 'StartupMessage', protocolVersion: PROTOCOL_3_0, parameters: [{ name: '', value: 'x' }] }],
    ['AuthenticationSASL with an empty mechanism (the list terminator)', { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256', ''] }],
    ['ErrorResponse field code NUL (the list terminator)', { type: 'ErrorResponse', fields: [{ code: '\0', value: 'x' }] }],
    ['ExtendProtocol block with subtag End (the list terminator)', { type: 'ExtendProtocol', blocks: [{ subtag: 3, data: new Uint8Array(0) }] }],
    ['CancelRequest with a 3-byte key', { type: 'CancelRequest', processId: 1, secretKey: new Uint8Array(3) }],
    ['CancelRequest with a 257-byte key', { type: 'CancelRequest', processId: 1, secretKey: new Uint8Array(257) }],
    ['BackendKeyData with a 257-byte key', { type: 'BackendKeyData', processId: 1, secretKey: new Uint8Array(257) }],
  ];
  it.each(cases)('%s', (_, msg) => {
    const m = MODEL.messages.find((x) => x.name === msg.type)!;
    const w = new Writer(8);
    const run = (): void => {
      if (m.extension !== undefined) encodeExtension(w, msg);
      else if (m.directions.includes('frontend')) codecs.encodeFrontend(w, msg as unknown as codecs.FrontendMessage);
      else codecs.encodeBackend(w, msg as unknown as codecs.BackendMessage);
    };
    expect(run).toThrow(ProtocolEncodeError);
  });
});

// Keep the table imports honest: both tables decode their own direction only.
it('the tables are the generated ones', () => {
  expect(FRONTEND_TABLE.direction).toBe('frontend');
  expect(BACKEND_TABLE.direction).toBe('backend');
});
