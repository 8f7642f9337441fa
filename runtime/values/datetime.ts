/**
 * date, time, timestamp and timestamptz. Decoded values are the text PostgreSQL prints with
 * DateStyle ISO and TimeZone UTC ('2024-02-29', '13:05:00.5', '2024-02-29 13:05:00',
 * '2024-02-29 13:05:00+00', 'infinity', '0044-03-15 BC'), so nothing is lost to a JavaScript Date's
 * millisecond precision. Encoding also takes a Date. Binary: days (int32) or microseconds (int64)
 * since 2000-01-01, microseconds since midnight for time; the extreme integers are ±infinity.
 */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { expectLength, invalidText, pad, ValueError, wrongValue, type ValueCodec } from './codec.js';

const USECS_PER_DAY = 86_400_000_000n;
/** Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_UNIX_DAYS = 10957;
const DATE_INFINITY = 0x7fffffff;
const DATE_NEG_INFINITY = -0x80000000;
const TS_INFINITY = 2n ** 63n - 1n;
const TS_NEG_INFINITY = -(2n ** 63n);

// ---- calendar arithmetic (proleptic Gregorian, astronomical years: 0 is 1 BC) ----------------------

/** Days since 2000-01-01 of a calendar date. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = year - (month <= 2 ? 1 : 0);
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468 - PG_EPOCH_UNIX_DAYS;
}

/** The calendar date of a day count since 2000-01-01. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + PG_EPOCH_UNIX_DAYS + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function outOfRange(text: string): ValueError {
  return new ValueError('22008', `date/time field value out of range: "${text}"`);
}

// ---- text forms ---------------------------------------------------------------------------------

function formatDate(days: number): { text: string; bc: boolean } {
  const { year, month, day } = civilFromDays(days);
  const bc = year <= 0;
  return { text: `${pad(bc ? 1 - year : year, 4)}-${pad(month, 2)}-${pad(day, 2)}`, bc };
}

/** HH:MM:SS with the fraction's trailing zeros dropped. */
function formatTime(micros: bigint): string {
  const secs = micros / 1_000_000n;
  const frac = micros % 1_000_000n;
  const h = secs / 3600n;
  const m = (secs / 60n) % 60n;
  const s = secs % 60n;
  const fraction = frac === 0n ? '' : `.${pad(frac, 6).replace(/0+$/, '')}`;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${fraction}`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function formatTimestamp(micros: bigint, zone: boolean): string {
  if (micros === TS_INFINITY) return 'infinity';
  if (micros === TS_NEG_INFINITY) return '-infinity';
  const days = floorDiv(micros, USECS_PER_DAY);
  const date = formatDate(Number(days));
  const time = formatTime(micros - days * USECS_PER_DAY);
  return `${date.text} ${time}${zone ? '+00' : ''}${date.bc ? ' BC' : ''}`;
}

interface ParsedDateTime {
  days: number;
  /** Microseconds since midnight. */
  time: bigint;
  /** Seconds east of UTC, when the text named a zone. */
  offset: number | undefined;
}

const DATE_TIME =
  /^(\d{1,7})-(\d{1,2})-(\d{1,2})(?:(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?)?\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?)?(?:\s+(BC|AD))?$/i;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?$/;

function fractionMicros(digits: string | undefined): bigint {
  if (!digits) return 0n;
  // Round to microseconds, half away from zero on the seventh digit.
  const six = BigInt(digits.slice(0, 6).padEnd(6, '0'));
  return (digits.charCodeAt(6) || 48) >= 53 ? six + 1n : six;
}

function timeOfDay(text: string, h: string, m: string, s: string | undefined, frac: string | undefined): bigint {
  const hours = Number(h);
  const minutes = Number(m);
  const seconds = Number(s ?? '0');
  if (minutes > 59 || seconds > 60) throw outOfRange(text);
  const micros = ((BigInt(hours) * 60n + BigInt(minutes)) * 60n + BigInt(seconds)) * 1_000_000n + fractionMicros(frac);
  if (micros > USECS_PER_DAY) throw outOfRange(text);
  return micros;
}

function zoneOffset(zone: string | undefined): number | undefined {
  if (zone === undefined) return undefined;
  if (/^(z|utc|gmt)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$/.exec(zone)!;
  const secs = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  return m[1] === '-' ? -secs : secs;
}

function parseDateTime(typeName: string, text: string, withTime: boolean): ParsedDateTime {
  const m = DATE_TIME.exec(text.trim());
  if (!m || (!withTime && m[4] !== undefined)) throw invalidText(typeName, text);
  let year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (m[9]?.toUpperCase() === 'BC') year = 1 - year;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || year === 0 && m[9] === undefined) throw outOfRange(text);
  const time = m[4] === undefined ? 0n : timeOfDay(text, m[4], m[5]!, m[6], m[7]);
  return { days: daysFromCivil(year, month, day), time, offset: zoneOffset(m[8]) };
}

const DATE_MS_TO_PG_MICROS = (ms: number): bigint => (BigInt(Math.round(ms)) - BigInt(PG_EPOCH_UNIX_DAYS) * 86_400_000n) * 1000n;

function specialTimestamp(text: string): bigint | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'infinity' || t === '+infinity') return TS_INFINITY;
  if (t === '-infinity') return TS_NEG_INFINITY;
  if (t === 'epoch') return DATE_MS_TO_PG_MICROS(0);
  return undefined;
}

function timestampMicros(typeName: string, value: unknown, zone: boolean): bigint {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw wrongValue(typeName, value);
    return DATE_MS_TO_PG_MICROS(value.getTime());
  }
  if (typeof value !== 'string') throw wrongValue(typeName, value);
  const special = specialTimestamp(value);
  if (special !== undefined) return special;
  const p = parseDateTime(typeName, value, true);
  const micros = BigInt(p.days) * USECS_PER_DAY + p.time;
  // A zone in the text shifts a timestamptz to UTC; a plain timestamp ignores it, as PostgreSQL does.
  return zone && p.offset !== undefined ? micros - BigInt(p.offset) * 1_000_000n : micros;
}

function dateDays(value: unknown): number {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw wrongValue('date', value);
    return Math.floor(value.getTime() / 86_400_000) - PG_EPOCH_UNIX_DAYS;
  }
  if (typeof value !== 'string') throw wrongValue('date', value);
  const t = value.trim().toLowerCase();
  if (t === 'infinity' || t === '+infinity') return DATE_INFINITY;
  if (t === '-infinity') return DATE_NEG_INFINITY;
  if (t === 'epoch') return -PG_EPOCH_UNIX_DAYS;
  // A date literal with a time part is accepted and the time dropped, as PostgreSQL does.
  const m = DATE_TIME.exec(value.trim());
  if (m && m[4] !== undefined) return parseDateTime('date', value, true).days;
  return parseDateTime('date', value, false).days;
}

function dateText(days: number): string {
  if (days === DATE_INFINITY) return 'infinity';
  if (days === DATE_NEG_INFINITY) return '-infinity';
  const d = formatDate(days);
  return d.bc ? `${d.text} BC` : d.text;
}

function timeMicros(value: unknown): bigint {
  if (typeof value !== 'string') throw wrongValue('time', value);
  const m = TIME.exec(value.trim());
  if (!m) throw invalidText('time without time zone', value);
  return timeOfDay(value, m[1]!, m[2]!, m[3], m[4]);
}

// ---- codecs ------------------------------------------------------------------------------------

export type DateInput = string | Date;

export const dateCodec: ValueCodec<string, DateInput> = {
  type: DATA_TYPES.date,
  encodeText: (v) => dateText(dateDays(v)),
  decodeText: (text) => dateText(dateDays(text)),
  encodeBinary: (v) => {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(dateDays(v));
    return b;
  },
  decodeBinary: (raw) => dateText(expectLength('date', raw, 4).readInt32BE(0)),
};

export const timeCodec: ValueCodec<string> = {
  type: DATA_TYPES.time,
  encodeText: (v) => formatTime(timeMicros(v)),
  decodeText: (text) => formatTime(timeMicros(text)),
  encodeBinary: (v) => {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(timeMicros(v));
    return b;
  },
  decodeBinary: (raw) => formatTime(expectLength('time', raw, 8).readBigInt64BE(0)),
};

function makeTimestampCodec(zone: boolean): ValueCodec<string, DateInput> {
  const type = zone ? DATA_TYPES.timestamptz : DATA_TYPES.timestamp;
  return {
    type,
    encodeText: (v) => formatTimestamp(timestampMicros(type.name, v, zone), zone),
    decodeText: (text) => formatTimestamp(timestampMicros(type.name, text, zone), zone),
    encodeBinary: (v) => {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(timestampMicros(type.name, v, zone));
      return b;
    },
    decodeBinary: (raw) => formatTimestamp(expectLength(type.name, raw, 8).readBigInt64BE(0), zone),
  };
}

export const timestampCodec = makeTimestampCodec(false);
export const timestamptzCodec = makeTimestampCodec(true);

/** A decoded date or timestamp as a JavaScript Date (milliseconds; ±infinity gives an invalid Date). */
export function toJsDate(text: string): Date {
  const t = text.trim().toLowerCase();
  if (t === 'infinity' || t === '-infinity') return new Date(NaN);
  const micros = timestampMicros('timestamptz', text, true);
  return new Date(Number(micros / 1000n) + PG_EPOCH_UNIX_DAYS * 86_400_000);
}
