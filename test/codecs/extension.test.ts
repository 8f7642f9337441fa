/**
 * The Cloudberry 'e' message (reference protocol.md §C), built by hand byte by byte: Byte1 'e',
 * Int32 length, then blocks of Int32 subtag (0..2), Int32 length and that many bytes, ended by
 * Int32 3. The I/U/D payload is a host-order (little-endian) int32 count and uint32 OIDs.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  cloudberryExtendProtocol,
  decodeModifiedRelations,
  encodeExtendProtocol,
  encodeModifiedRelations,
  ExtendProtocolSubtag,
  MESSAGES as EXTENSION_MESSAGES,
  type ExtendProtocol,
} from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { STATES } from '../../generated/index.js';
import { ProtocolDecodeError, Reader, StreamDecoder, Writer } from '../../runtime/wire/index.js';
import { BACKEND_TABLE, EXTENDED_BACKEND_TABLE, hex, PROTOCOL_3_0, type AnyMessage } from './support/codecs.js';

const be32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
};
const le32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n | 0);
  return b;
};
const leOid = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
/** The payload Cloudberry's send_subtag memcpy's: int count, then count OIDs, host order. */
const relations = (...oids: number[]): Buffer => Buffer.concat([le32(oids.length), ...oids.map(leOid)]);
const block = (subtag: number, data: Buffer): Buffer => Buffer.concat([be32(subtag), be32(data.length), data]);
const END = be32(3);
const message = (...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from('e'), be32(body.length + 4), body]);
};

function decodeAll(bytes: Uint8Array, table = EXTENDED_BACKEND_TABLE): AnyMessage[] {
  const d = new StreamDecoder(table, { context: { protocolVersion: PROTOCOL_3_0 } });
  d.push(bytes);
  const out: AnyMessage[] = [];
  for (let m = d.next(); m !== undefined; m = d.next()) out.push(m);
  expect(d.buffered).toBe(0);
  return out;
}

function failure(bytes: Uint8Array, table = EXTENDED_BACKEND_TABLE): ProtocolDecodeError {
  try {
    decodeAll(bytes, table);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolDecodeError);
    return err as ProtocolDecodeError;
  }
  throw new Error('decoded without error');
}

function oidsOf(data: Uint8Array): readonly number[] {
  const r = new Reader(data, 0, data.length, 'ModifiedRelations');
  const { relationOids } = decodeModifiedRelations(r, { protocolVersion: PROTOCOL_3_0 });
  expect(r.remaining).toBe(0);
  return relationOids;
}

describe("Cloudberry 'e' with the extension's table", () => {
  it('decodes inserted, updated and deleted blocks, and their relation OIDs', () => {
    const bytes = message(block(0, relations(16384, 16390)), block(1, relations(0xfffffff0)), block(2, relations()), END);
    const [m] = decodeAll(bytes) as unknown as [ExtendProtocol];
    expect(m.type).toBe('ExtendProtocol');
    expect(m.blocks.map((b) => b.subtag)).toEqual([ExtendProtocolSubtag.Inserted, ExtendProtocolSubtag.Updated, ExtendProtocolSubtag.Deleted]);
    expect(m.blocks.map((b) => oidsOf(b.data))).toEqual([[16384, 16390], [0xfffffff0], []]);
    // Re-encoding gives the same bytes, and so does encoding the payload.
    const w = new Writer(64);
    encodeExtendProtocol(w, m);
    expect(hex(w.take())).toBe(hex(bytes));
    encodeModifiedRelations(w, { relationOids: [16384, 16390] });
    expect(hex(w.take())).toBe(hex(relations(16384, 16390)));
  });

  it('a message with only the terminator has no blocks', () => {
    expect(decodeAll(message(END))).toEqual([{ type: 'ExtendProtocol', blocks: [] }]);
  });

  it('repeats of a subtag are kept in order, with any bytes as data', () => {
    const [m] = decodeAll(message(block(0, relations(1)), block(0, Buffer.from('opaque')), END)) as unknown as [ExtendProtocol];
    expect(m.blocks.map((b) => [b.subtag, hex(b.data)])).toEqual([
      [0, hex(relations(1))],
      [0, hex(Buffer.from('opaque'))],
    ]);
  });

  it('sits between the rows and CommandComplete of an ordinary stream', () => {
    const stream = Buffer.concat([
      message(block(0, relations(42)), END),
      Buffer.from('430000000f494e5345525420302031005a0000000549', 'hex'), // CommandComplete "INSERT 0 1", ReadyForQuery 'I'
    ]);
    expect(decodeAll(stream).map((m) => m.type)).toEqual(['ExtendProtocol', 'CommandComplete', 'ReadyForQuery']);
  });

  it('the OIDs are little-endian: a big-endian count reads as far more than remains', () => {
    const bigEndian = Buffer.concat([be32(1), be32(16384)]);
    const r = new Reader(bigEndian, 0, bigEndian.length, 'ModifiedRelations');
    expect(() => decodeModifiedRelations(r, { protocolVersion: PROTOCOL_3_0 })).toThrow(expect.objectContaining({ code: 'count-exceeds-remaining' }));
  });

  it('the extension describes itself: option, table entry, catalog entry and state rules', () => {
    expect(cloudberryExtendProtocol.option).toBe('_pq_.cloudberry_extend_protocol');
    expect(cloudberryExtendProtocol.backendTyped.map((e) => [e.byte, e.entry.name])).toEqual([[0x65, 'ExtendProtocol']]);
    expect(cloudberryExtendProtocol.frontendTyped).toEqual([]);
    expect(EXTENSION_MESSAGES.ExtendProtocol).toMatchObject({ typeByte: 'e', directions: ['backend'], extension: 'cloudberry-extend-protocol' });
    const states = cloudberryExtendProtocol.stateRules.map((r) => r.state).sort();
    expect(states).toEqual(['Extended', 'SimpleQuery', 'SyncPending']);
    for (const s of states) expect(STATES[s].send.ExtendProtocol).toBeUndefined(); // a delta: not in the base machine
  });
});

describe("'e' errors", () => {
  it('without the extension it is an unknown backend message', () => {
    const err = failure(message(END), BACKEND_TABLE);
    expect([err.code, err.messageName]).toEqual(['unknown-type', "'e'"]);
    expect(BACKEND_TABLE.typed[0x65]).toBeUndefined();
  });

  it.each([
    ['subtag 7', message(block(7, relations(1)), END), 'invalid-value'],
    ['subtag -1', message(block(-1, relations(1)), END), 'invalid-value'],
    ['subtag 4 right after a good block', message(block(0, relations(1)), be32(4), be32(0), END), 'invalid-value'],
    ['a block length past the end', message(be32(0), be32(100), relations(1), END), 'truncated'],
    ['a block length of 2^31-1', message(be32(1), be32(0x7fffffff), END), 'truncated'],
    ['a negative block length', message(be32(2), be32(-1), END), 'negative-length'],
    ['no terminator', message(block(0, relations(1))), 'truncated'],
    ['a terminator cut short', message(block(0, relations(1)), Buffer.from([0, 0, 0])), 'truncated'],
    ['bytes after the terminator', message(block(0, relations(1)), END, Buffer.from([0])), 'trailing-bytes'],
  ] as const)('%s', (_, bytes, code) => {
    const err = failure(bytes);
    expect(err.code).toBe(code);
    expect(err.messageName).toBe('ExtendProtocol');
  });

  it.each([
    ['a count larger than what remains', Buffer.concat([le32(3), leOid(1)]), 'count-exceeds-remaining'],
    ['a negative count', le32(-1), 'negative-length'],
    ['a count cut short', Buffer.from([1, 0]), 'truncated'],
  ] as const)('ModifiedRelations: %s', (_, data, code) => {
    const r = new Reader(data, 0, data.length, 'ModifiedRelations');
    let err: unknown;
    try {
      decodeModifiedRelations(r, { protocolVersion: PROTOCOL_3_0 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolDecodeError);
    expect((err as ProtocolDecodeError).code).toBe(code);
    expect((err as ProtocolDecodeError).messageName).toBe('ModifiedRelations');
  });
});
