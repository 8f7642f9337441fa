/**
 * numeric as an exact decimal string ('12.50', '-3', 'NaN', 'Infinity', '-Infinity'). Text keeps
 * the scale it was given; binary is PostgreSQL's base-10000 form: digit count, weight of the first
 * digit, sign (or NaN/±Infinity marker), display scale, then the base-10000 digits.
 */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { asBuffer, invalidBinary, invalidText, wrongValue, type ValueCodec } from './codec.js';

const SIGN_POSITIVE = 0x0000;
const SIGN_NEGATIVE = 0x4000;
const SIGN_NAN = 0xc000;
const SIGN_PINF = 0xd000;
const SIGN_NINF = 0xf000;
const INFINITY_DSCALE = 32;

/** A finite decimal: digits before and after the point (no leading zeros in `int`, `frac` as long as the scale). */
interface Decimal {
  readonly negative: boolean;
  readonly int: string;
  readonly frac: string;
}
type Parsed = Decimal | 'NaN' | 'Infinity' | '-Infinity';

const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

function parse(text: string): Parsed {
  const t = text.trim();
  const lower = t.toLowerCase();
  if (lower === 'nan') return 'NaN';
  if (lower === 'infinity' || lower === '+infinity' || lower === 'inf' || lower === '+inf') return 'Infinity';
  if (lower === '-infinity' || lower === '-inf') return '-Infinity';
  const m = DECIMAL.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw invalidText('numeric', text);
  let int = m[2]!;
  let frac = m[3] ?? '';
  const exp = m[4] === undefined ? 0 : Number(m[4]);
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1000) throw invalidText('numeric', text);
  if (exp > 0) {
    const moved = frac.padEnd(exp, '0');
    int += moved.slice(0, exp);
    frac = moved.slice(exp);
  } else if (exp < 0) {
    const whole = int.padStart(-exp, '0');
    frac = whole.slice(whole.length + exp) + frac;
    int = whole.slice(0, whole.length + exp);
  }
  int = int.replace(/^0+/, '');
  return { negative: m[1] === '-', int, frac };
}

function isZero(d: Decimal): boolean {
  return /^0*$/.test(d.int) && /^0*$/.test(d.frac);
}

function format(p: Parsed): string {
  if (typeof p === 'string') return p;
  const body = (p.int === '' ? '0' : p.int) + (p.frac.length > 0 ? `.${p.frac}` : '');
  return p.negative && !isZero(p) ? `-${body}` : body;
}

function toParsed(v: unknown): Parsed {
  if (typeof v === 'string') return parse(v);
  if (typeof v === 'bigint') return parse(v.toString());
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    return parse(String(v));
  }
  throw wrongValue('numeric', v);
}

function encodeBinary(p: Parsed): Uint8Array {
  if (typeof p === 'string') {
    const b = Buffer.alloc(8);
    b.writeUInt16BE(p === 'NaN' ? SIGN_NAN : p === 'Infinity' ? SIGN_PINF : SIGN_NINF, 4);
    // PostgreSQL sends the infinities with display scale 32 (its NUMERIC_DSCALE for them), NaN with 0.
    if (p !== 'NaN') b.writeUInt16BE(INFINITY_DSCALE, 6);
    return b;
  }
  const dscale = p.frac.length;
  // Align both parts on four-digit groups around the decimal point.
  const intPadded = p.int.padStart(Math.ceil(p.int.length / 4) * 4, '0');
  const fracPadded = p.frac.padEnd(Math.ceil(p.frac.length / 4) * 4, '0');
  const groups: number[] = [];
  for (let i = 0; i < intPadded.length; i += 4) groups.push(Number(intPadded.slice(i, i + 4)));
  for (let i = 0; i < fracPadded.length; i += 4) groups.push(Number(fracPadded.slice(i, i + 4)));
  let weight = intPadded.length / 4 - 1;
  let start = 0;
  while (start < groups.length && groups[start] === 0) {
    start++;
    weight--;
  }
  let end = groups.length;
  while (end > start && groups[end - 1] === 0) end--;
  const digits = groups.slice(start, end);
  if (digits.length === 0) weight = 0;
  const b = Buffer.allocUnsafe(8 + 2 * digits.length);
  b.writeUInt16BE(digits.length, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(p.negative && digits.length > 0 ? SIGN_NEGATIVE : SIGN_POSITIVE, 4);
  b.writeUInt16BE(dscale, 6);
  digits.forEach((d, i) => b.writeUInt16BE(d, 8 + 2 * i));
  return b;
}

function decodeBinary(raw: Uint8Array): string {
  const b = asBuffer(raw);
  if (b.length < 8) throw invalidBinary('numeric', 'numeric value shorter than its header');
  const ndigits = b.readUInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readUInt16BE(6);
  if (sign === SIGN_NAN) return 'NaN';
  if (sign === SIGN_PINF) return 'Infinity';
  if (sign === SIGN_NINF) return '-Infinity';
  if (sign !== SIGN_POSITIVE && sign !== SIGN_NEGATIVE) throw invalidBinary('numeric', 'invalid sign in external "numeric" value');
  if (b.length !== 8 + 2 * ndigits) throw invalidBinary('numeric', 'numeric digit count does not match its length');
  let int = '';
  let frac = '';
  for (let i = 0; i < ndigits; i++) {
    const d = b.readUInt16BE(8 + 2 * i);
    if (d > 9999) throw invalidBinary('numeric', 'invalid digit in external "numeric" value');
    const w = weight - i;
    if (w >= 0) int += String(d).padStart(4, '0');
    else frac += String(d).padStart(4, '0');
  }
  // Groups of weight between the last digit and the point are zero.
  if (ndigits > 0 && weight - (ndigits - 1) > 0) int += '0000'.repeat(weight - (ndigits - 1));
  // Groups between the point and the first fractional digit are zero too.
  if (weight < -1) frac = '0000'.repeat(-1 - weight) + frac;
  frac = frac.length >= dscale ? frac.slice(0, dscale) : frac.padEnd(dscale, '0');
  return format({ negative: sign === SIGN_NEGATIVE, int: int.replace(/^0+/, ''), frac });
}

/** numeric decodes to its exact text; encoding also takes numbers and bigints. */
export const numericCodec: ValueCodec<string, string | number | bigint> = {
  type: DATA_TYPES.numeric,
  encodeText: (v) => format(toParsed(v)),
  decodeText: (text) => format(parse(text)),
  encodeBinary: (v) => encodeBinary(toParsed(v)),
  decodeBinary,
};
