/**
 * float4 and float8 as JavaScript numbers. Text output is PostgreSQL's shortest exact form
 * (extra_float_digits >= 1, the default since PostgreSQL 12): plain digits for decimal exponents
 * from -4 up to the type's precision, exponent notation with at least two exponent digits outside.
 */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { expectLength, invalidText, wrongValue, type DataTypeInfo, type ValueCodec } from './codec.js';

const SPECIAL: Record<string, number> = {
  nan: NaN,
  infinity: Infinity,
  '+infinity': Infinity,
  '-infinity': -Infinity,
  inf: Infinity,
  '+inf': Infinity,
  '-inf': -Infinity,
};
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The shortest digits that read back as `value` (a float32 when `single`), and the decimal exponent. */
function shortestDigits(value: number, single: boolean): { digits: string; exponent: number } {
  let sci = value.toExponential();
  if (single) {
    for (let p = 1; p <= 9; p++) {
      const candidate = value.toExponential(p - 1);
      if (Math.fround(Number(candidate)) === value) {
        sci = candidate;
        break;
      }
    }
  }
  const [mantissa, exp] = sci.split('e') as [string, string];
  return { digits: mantissa.replace('-', '').replace('.', ''), exponent: Number(exp) };
}

export function formatFloat(value: number, single: boolean): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const sign = value < 0 ? '-' : '';
  const { digits, exponent } = shortestDigits(Math.abs(value), single);
  const precision = single ? 6 : 15;
  if (exponent < -4 || exponent >= precision) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exponent);
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  if (digits.length <= exponent + 1) return `${sign}${digits}${'0'.repeat(exponent + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
}

function parseFloatText(sqlName: string, text: string): number {
  const t = text.trim();
  const special = SPECIAL[t.toLowerCase()];
  if (special !== undefined) return special;
  if (!DECIMAL.test(t)) throw invalidText(sqlName, text);
  return Number(t);
}

function floatCodec(type: DataTypeInfo, sqlName: string, single: boolean): ValueCodec<number> {
  const check = (v: unknown): number => {
    if (typeof v !== 'number') throw wrongValue(type.name, v);
    return single ? Math.fround(v) : v;
  };
  return {
    type,
    encodeText: (v) => formatFloat(check(v), single),
    decodeText: (text) => {
      const n = parseFloatText(sqlName, text);
      return single ? Math.fround(n) : n;
    },
    encodeBinary: (v) => {
      const b = Buffer.allocUnsafe(single ? 4 : 8);
      if (single) b.writeFloatBE(check(v));
      else b.writeDoubleBE(check(v));
      return b;
    },
    decodeBinary: (raw) => (single ? expectLength(type.name, raw, 4).readFloatBE(0) : expectLength(type.name, raw, 8).readDoubleBE(0)),
  };
}

export const float4Codec = floatCodec(DATA_TYPES.float4, 'real', true);
export const float8Codec = floatCodec(DATA_TYPES.float8, 'double precision', false);
