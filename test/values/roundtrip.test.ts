/** Value codecs without a server: round trips, accepted inputs, and the errors bad values give. */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  arrayCodec,
  boolCodec,
  byteaCodec,
  codecForName,
  codecForOid,
  dateCodec,
  float4Codec,
  float8Codec,
  int2Codec,
  int4Codec,
  int8Codec,
  intervalCodec,
  jsonbCodec,
  numericCodec,
  textCodec,
  timestampCodec,
  timestamptzCodec,
  toJsDate,
  uuidCodec,
  ValueError,
  type ValueCodec,
} from '../../runtime/values/index.js';
import { DATA_TYPES } from '../../generated/index.js';

function roundTrips<T, In>(codec: ValueCodec<T, In>, value: In): void {
  expect(codec.decodeBinary(codec.encodeBinary(value))).toEqual(codec.decodeText(codec.encodeText(value)));
}

function sqlstate(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof ValueError ? e.sqlstate : 'not a ValueError';
  }
  return undefined;
}

describe('value codecs', () => {
  it('take their OIDs from the spec', () => {
    expect(codecForName('int8')!.type.oid).toBe(DATA_TYPES.int8.oid);
    expect(codecForOid(DATA_TYPES.text.arrayOid)!.type.name).toBe('_text');
    expect(codecForName('timestamptz[]')!.type.oid).toBe(DATA_TYPES.timestamptz.arrayOid);
  });

  it('round-trip integers, floats and numerics in both formats', () => {
    fc.assert(fc.property(fc.integer({ min: -32768, max: 32767 }), (n) => roundTrips(int2Codec, n)));
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => roundTrips(int4Codec, n)));
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) => roundTrips(int8Codec, n)));
    fc.assert(fc.property(fc.double(), (x) => Object.is(float8Codec.decodeText(float8Codec.encodeText(x)), x)));
    fc.assert(fc.property(fc.float(), (x) => Object.is(float4Codec.decodeText(float4Codec.encodeText(x)), Math.fround(x))));
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.integer({ min: 0, max: 30 }), (digits, scale) => {
        const s = digits.toString();
        const neg = s.startsWith('-');
        const body = (neg ? s.slice(1) : s).padStart(scale + 1, '0');
        const text = `${neg ? '-' : ''}${body.slice(0, body.length - scale)}${scale ? `.${body.slice(body.length - scale)}` : ''}`;
        const canonical = numericCodec.decodeText(text);
        expect(numericCodec.decodeBinary(numericCodec.encodeBinary(canonical))).toBe(canonical);
      }),
    );
  });

  it('normalise numeric input as PostgreSQL prints it', () => {
    expect(numericCodec.encodeText('+001.50')).toBe('1.50');
    expect(numericCodec.encodeText('1.5e3')).toBe('1500');
    expect(numericCodec.encodeText('-0.00')).toBe('0.00');
    expect(numericCodec.encodeText(12345678901234567890n)).toBe('12345678901234567890');
    expect(numericCodec.encodeText(0.1)).toBe('0.1');
    expect(sqlstate(() => numericCodec.decodeText('1.2.3'))).toBe('22P02');
  });

  it('print dates and timestamps in ISO style and take JavaScript Dates', () => {
    const d = new Date(Date.UTC(2024, 1, 29, 13, 5, 0, 250));
    expect(timestampCodec.encodeText(d)).toBe('2024-02-29 13:05:00.25');
    expect(timestamptzCodec.encodeText(d)).toBe('2024-02-29 13:05:00.25+00');
    expect(timestamptzCodec.encodeText('2024-02-29T15:05:00+02:00')).toBe('2024-02-29 13:05:00+00');
    expect(dateCodec.encodeText(d)).toBe('2024-02-29');
    expect(toJsDate('2024-02-29 13:05:00.25+00').getTime()).toBe(d.getTime());
    expect(sqlstate(() => dateCodec.decodeText('2023-02-29'))).toBe('22008');
    roundTrips(timestampCodec, '0001-01-01 00:00:00 BC');
  });

  it('parse intervals in the postgres, verbose and ISO 8601 styles', () => {
    expect(intervalCodec.decodeText('1 year 2 mons -3 days +04:05:06.5')).toEqual({ months: 14, days: -3, microseconds: 14_706_500_000n });
    expect(intervalCodec.decodeText('@ 1 day 2 hours ago')).toEqual({ months: 0, days: -1, microseconds: -7_200_000_000n });
    expect(intervalCodec.encodeText('P1DT1H')).toBe('1 day 01:00:00');
    expect(intervalCodec.encodeText({ months: -1, days: 2, microseconds: 0n })).toBe('-1 mons +2 days');
  });

  it('quote array elements that need it and read them back', () => {
    const texts = arrayCodec(textCodec);
    const values = ['plain', '', 'NULL', null, 'a "q" \\ b', ' lead', '{x}'];
    const text = texts.encodeText(values);
    expect(text).toBe('{plain,"","NULL",NULL,"a \\"q\\" \\\\ b"," lead","{x}"}');
    expect(texts.decodeText(text)).toEqual(values);
    expect(texts.decodeBinary(texts.encodeBinary(values))).toEqual(values);
    expect(arrayCodec(int4Codec).decodeText('[1:2]={ 1 , 2 }')).toEqual([1, 2]);
    expect(sqlstate(() => arrayCodec(int4Codec).decodeText('{{1},{2}}'))).toBe('0A000');
  });

  it('handle bool, bytea, uuid and jsonb forms', () => {
    expect(boolCodec.decodeText('yes')).toBe(true);
    expect(boolCodec.decodeText('of')).toBe(false);
    expect(byteaCodec.decodeText('\\x0aFF')).toEqual(Buffer.from([10, 255]));
    expect(byteaCodec.decodeText('a\\\\b\\001')).toEqual(Buffer.from([0x61, 0x5c, 0x62, 1]));
    expect(uuidCodec.decodeText('{A0EEBC999C0B4EF8BB6D6BB9BD380A11}')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(jsonbCodec.encodeText({ bb: 1, a: { c: [1, 'x'] }, ccc: null })).toBe('{"a": {"c": [1, "x"]}, "bb": 1, "ccc": null}');
    expect(Buffer.from(jsonbCodec.encodeBinary([1]))[0]).toBe(1);
  });

  it('refuse values of the wrong JavaScript type with 42804 and out-of-range text with 22003', () => {
    expect(sqlstate(() => int4Codec.encodeText('1' as unknown as number))).toBe('42804');
    expect(sqlstate(() => int2Codec.decodeText('40000'))).toBe('22003');
    expect(sqlstate(() => int8Codec.decodeBinary(Buffer.alloc(4)))).toBe('22P03');
  });
});
