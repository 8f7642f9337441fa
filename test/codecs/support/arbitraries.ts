/**
 * fast-check arbitraries for every message, derived from the spec model, so a message added to
 * the spec is covered without touching the tests. Values are biased toward the edges: empty and
 * non-ASCII strings, NULL values, empty and long arrays, integer extremes.
 */
import fc from 'fast-check';
import type { FieldModel, MessageModel, TypeModel } from '../../../generator/model.js';
import { ValueList } from '../../../runtime/wire/index.js';
import { MODEL, type AnyMessage } from './codecs.js';

const INT_RANGE: Record<string, [number, number]> = {
  int8: [-0x80, 0x7f],
  uint8: [0, 0xff],
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  int32le: [-0x80000000, 0x7fffffff],
  uint32le: [0, 0xffffffff],
};

/** Text without NUL (a cstring cannot hold one): ASCII, full Unicode, and a few fixed awkward ones. */
export function text(options: { nonEmpty?: boolean } = {}): fc.Arbitrary<string> {
  const min = options.nonEmpty ? 1 : 0;
  return fc
    .oneof(
      fc.string({ unit: 'grapheme-ascii', minLength: min, maxLength: 40 }),
      fc.string({ unit: 'binary', minLength: min, maxLength: 20 }),
      fc.constantFrom('é', 'ß', '日本語のテキスト', '👍🏽', 'Ω≈ç√∫', 'a\u0301', '\u{10FFFF}', ' ', '\n\t\r', 'x'.repeat(300)),
      ...(options.nonEmpty ? [] : [fc.constant('')]),
    )
    .map((s) => s.replace(/\0/g, '\u0001'))
    .filter((s) => s.length >= min);
}

function bytes(min: number, max: number): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength: min, maxLength: max });
}

function enumValues(name: string): (number | string)[] {
  const e = MODEL.enums.find((x) => x.name === name);
  if (!e) throw new Error(`no enum ${name}`);
  return e.values.map((v) => v.value);
}

/** Arbitrary for one wire type; `first` marks the first value of a terminated array item. */
function typeArb(t: TypeModel, terminator: number | undefined): fc.Arbitrary<unknown> {
  switch (t.kind) {
    case 'int': {
      if (t.wire === 'int64') return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
      const [min, max] = INT_RANGE[t.wire]!;
      let arb: fc.Arbitrary<number> = fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max, 0, -1 >= min ? -1 : 1));
      if (t.enumName) {
        const values = enumValues(t.enumName) as number[];
        arb = t.strictEnum ? fc.constantFrom(...values) : fc.oneof(fc.constantFrom(...values), arb);
      }
      if (terminator !== undefined) arb = arb.filter((v) => v !== terminator);
      return arb;
    }
    case 'byte1': {
      let arb: fc.Arbitrary<string> = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));
      if (t.enumName) {
        const values = enumValues(t.enumName) as string[];
        arb = t.strictEnum ? fc.constantFrom(...values) : fc.oneof(fc.constantFrom(...values), arb);
      }
      if (terminator !== undefined) arb = arb.filter((v) => v.charCodeAt(0) !== terminator);
      return arb;
    }
    case 'cstring':
      // A terminated list of strings ends at an empty string (the terminator is the empty string's NUL).
      return text({ nonEmpty: terminator !== undefined });
    case 'bytes': {
      const len = t.length;
      if (len.kind === 'fixed') return bytes(len.size, len.size);
      let min = t.minLength ?? 0;
      let max = t.maxLength ?? 64;
      if (t.lengthByVersion) {
        // Generated for the newest version; the version-dependent checks are tested on their own.
        const newest = t.lengthByVersion[MODEL.protocol.latestVersion]!;
        min = newest.min;
        max = newest.max;
      }
      const arb = fc.oneof({ weight: 4, arbitrary: bytes(min, Math.min(max, 64)) }, { weight: 1, arbitrary: bytes(max, max) }, { weight: 1, arbitrary: bytes(min, min) });
      return len.kind === 'prefixed' && len.nullable ? fc.option(arb, { nil: null, freq: 4 }) : arb;
    }
    case 'array': {
      if (t.item.kind === 'bytes' && t.count !== undefined && t.item.length.kind === 'prefixed' && t.item.length.nullable) {
        return fc.array(fc.option(bytes(0, 24), { nil: null, freq: 3 }), { maxLength: 12 }).map((vs) => ValueList.from(vs));
      }
      const itemTerminator = t.terminator?.value;
      return fc.array(typeArb(t.item, itemTerminator), { maxLength: 8 });
    }
    case 'struct': {
      const s = MODEL.structs.find((x) => x.name === t.name);
      if (!s) throw new Error(`no struct ${t.name}`);
      return fieldsArb(s.fields, terminator);
    }
  }
}

/** An object with one arbitrary value per non-constant field; only the first field sees the terminator. */
function fieldsArb(fields: readonly FieldModel[], terminator: number | undefined): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  fields.forEach((f, i) => {
    if (f.constant !== undefined) return;
    record[f.name] = typeArb(f.type, i === 0 ? terminator : undefined);
  });
  // A first field with a fixed value (a discriminator) cannot collide with a terminator either way.
  return fc.record(record) as fc.Arbitrary<Record<string, unknown>>;
}

/** An arbitrary message of this kind, with `type` set. */
export function messageArb(m: MessageModel): fc.Arbitrary<AnyMessage> {
  let arb = fieldsArb(m.fields, undefined).map((fields) => ({ type: m.name, ...fields }) as AnyMessage);
  if (m.framing === 'startup' && m.discriminator?.isDefault) {
    // A StartupMessage's version must not be one of the request codes, or it is another packet.
    const codes = MODEL.messages.filter((x) => x.framing === 'startup' && x.discriminator?.value !== undefined).map((x) => x.discriminator!.value);
    arb = arb.filter((msg) => !codes.includes(msg[m.discriminator!.field] as number));
  }
  return arb;
}
