/**
 * interval as { months, days, microseconds }, the three fields PostgreSQL keeps apart (a month is
 * not a fixed number of days, nor a day of hours). Text output is IntervalStyle postgres
 * ('1 year 2 mons -3 days +04:05:06.5'); text input takes that style, the verbose '@ ... ago'
 * form and ISO 8601 durations ('P1Y2M3DT4H5M6S'). Binary: int64 microseconds, int32 days, int32 months.
 */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { expectLength, invalidText, pad, wrongValue, type ValueCodec } from './codec.js';

export interface Interval {
  readonly months: number;
  readonly days: number;
  readonly microseconds: bigint;
}

const USECS_PER_SEC = 1_000_000n;
const USECS_PER_MIN = 60n * USECS_PER_SEC;
const USECS_PER_HOUR = 60n * USECS_PER_MIN;

/** Units in the postgres and verbose styles, by their spellings. */
const UNITS: Record<string, { months?: number; days?: number; micros?: bigint }> = {};
const unit = (names: string[], value: { months?: number; days?: number; micros?: bigint }): void => {
  for (const n of names) UNITS[n] = value;
};
unit(['millennium', 'millennia', 'millenniums', 'mil', 'mils'], { months: 12000 });
unit(['century', 'centuries', 'cent', 'c'], { months: 1200 });
unit(['decade', 'decades', 'dec', 'decs'], { months: 120 });
unit(['year', 'years', 'yr', 'yrs', 'y'], { months: 12 });
unit(['month', 'months', 'mon', 'mons'], { months: 1 });
unit(['week', 'weeks', 'w'], { days: 7 });
unit(['day', 'days', 'd'], { days: 1 });
unit(['hour', 'hours', 'hr', 'hrs', 'h'], { micros: USECS_PER_HOUR });
unit(['minute', 'minutes', 'min', 'mins', 'm'], { micros: USECS_PER_MIN });
unit(['second', 'seconds', 'sec', 'secs', 's'], { micros: USECS_PER_SEC });
unit(['millisecond', 'milliseconds', 'msec', 'msecs', 'ms'], { micros: 1000n });
unit(['microsecond', 'microseconds', 'usec', 'usecs', 'us'], { micros: 1n });

/** Scales a decimal string by an integer number of microseconds, rounding to a whole microsecond. */
function scaleMicros(amount: string, per: bigint): bigint {
  const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(amount)!;
  const frac = m[3] ?? '';
  const scaled = BigInt((m[2] || '0') + frac) * per;
  const divisor = 10n ** BigInt(frac.length);
  const q = (scaled * 2n + divisor) / (2n * divisor);
  return m[1] === '-' ? -q : q;
}

function parseIso(text: string, t: string): Interval {
  const m = /^P(?:([+-]?\d+)Y)?(?:([+-]?\d+)M)?(?:([+-]?\d+)W)?(?:([+-]?\d+)D)?(?:T(?:([+-]?\d+)H)?(?:([+-]?\d+)M)?(?:([+-]?\d+(?:\.\d*)?)S)?)?$/i.exec(t);
  if (!m || t === 'P' || /T$/i.test(t)) throw invalidText('interval', text);
  const n = (s: string | undefined): number => Number(s ?? 0);
  return {
    months: n(m[1]) * 12 + n(m[2]),
    days: n(m[3]) * 7 + n(m[4]),
    microseconds: BigInt(n(m[5])) * USECS_PER_HOUR + BigInt(n(m[6])) * USECS_PER_MIN + scaleMicros(m[7] ?? '0', USECS_PER_SEC),
  };
}

export function parseInterval(text: string): Interval {
  let t = text.trim();
  if (/^P/i.test(t)) return parseIso(text, t);
  let negate = false;
  if (t.startsWith('@')) t = t.slice(1).trim();
  if (/\sago$/i.test(t) || t.toLowerCase() === 'ago') {
    negate = true;
    t = t.slice(0, -3).trim();
  }
  let months = 0;
  let days = 0;
  let micros = 0n;
  const tokens = t.split(/\s+/).filter((x) => x !== '');
  if (tokens.length === 0) throw invalidText('interval', text);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const time = /^([+-])?(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?$/.exec(tok);
    if (time) {
      const v = BigInt(time[2]!) * USECS_PER_HOUR + BigInt(time[3]!) * USECS_PER_MIN + scaleMicros(time[4] ?? '0', USECS_PER_SEC);
      micros += time[1] === '-' ? -v : v;
      continue;
    }
    // "3 days", "3days", or a bare number that counts seconds.
    const joined = /^([+-]?(?:\d+\.?\d*|\.\d+))([a-z]*)$/i.exec(tok);
    if (!joined) throw invalidText('interval', text);
    let unitName = joined[2]!.toLowerCase();
    if (unitName === '' && i + 1 < tokens.length && /^[a-z]+$/i.test(tokens[i + 1]!)) unitName = tokens[++i]!.toLowerCase();
    const u = unitName === '' ? UNITS.second! : UNITS[unitName];
    if (u === undefined) throw invalidText('interval', text);
    const amount = joined[1]!;
    if (u.micros !== undefined) micros += scaleMicros(amount, u.micros);
    else {
      // Fractions of months and days spill into the smaller fields, as PostgreSQL does.
      const value = Number(amount);
      if (u.months !== undefined) {
        const monthsExact = value * u.months;
        months += Math.trunc(monthsExact);
        const dayFrac = (monthsExact - Math.trunc(monthsExact)) * 30;
        days += Math.trunc(dayFrac);
        micros += BigInt(Math.round((dayFrac - Math.trunc(dayFrac)) * 86_400_000_000));
      } else {
        const daysExact = value * u.days!;
        days += Math.trunc(daysExact);
        micros += BigInt(Math.round((daysExact - Math.trunc(daysExact)) * 86_400_000_000));
      }
    }
  }
  return negate ? { months: -months || 0, days: -days || 0, microseconds: -micros } : { months, days, microseconds: micros };
}

function plural(value: number, name: string, state: { zero: boolean; before: boolean }): string {
  if (value === 0) return '';
  const out = `${state.zero ? '' : ' '}${state.before && value > 0 ? '+' : ''}${value} ${name}${value !== 1 ? 's' : ''}`;
  state.before = value < 0;
  state.zero = false;
  return out;
}

/** IntervalStyle postgres, the default. */
export function formatInterval(v: Interval): string {
  const years = Math.trunc(v.months / 12);
  const months = v.months % 12;
  const state = { zero: true, before: false };
  let out = plural(years, 'year', state) + plural(months, 'mon', state) + plural(v.days, 'day', state);
  const us = v.microseconds;
  if (state.zero || us !== 0n) {
    const abs = us < 0n ? -us : us;
    const hours = abs / USECS_PER_HOUR;
    const mins = (abs / USECS_PER_MIN) % 60n;
    const secs = (abs / USECS_PER_SEC) % 60n;
    const frac = abs % USECS_PER_SEC;
    const sign = us < 0n ? '-' : state.before ? '+' : '';
    out += `${state.zero ? '' : ' '}${sign}${pad(hours, 2)}:${pad(mins, 2)}:${pad(secs, 2)}${frac === 0n ? '' : `.${pad(frac, 6).replace(/0+$/, '')}`}`;
  }
  return out;
}

function toInterval(v: unknown): Interval {
  if (typeof v === 'string') return parseInterval(v);
  if (v !== null && typeof v === 'object') {
    const o = v as Partial<Interval>;
    const micros = typeof o.microseconds === 'number' ? BigInt(Math.round(o.microseconds)) : o.microseconds ?? 0n;
    const months = o.months ?? 0;
    const days = o.days ?? 0;
    if (typeof micros === 'bigint' && Number.isInteger(months) && Number.isInteger(days)) return { months, days, microseconds: micros };
  }
  throw wrongValue('interval', v);
}

/** interval decodes to { months, days, microseconds }; encoding also takes its text. */
export const intervalCodec: ValueCodec<Interval, Interval | string> = {
  type: DATA_TYPES.interval,
  encodeText: (v) => formatInterval(toInterval(v)),
  decodeText: parseInterval,
  encodeBinary: (v) => {
    const i = toInterval(v);
    const b = Buffer.allocUnsafe(16);
    b.writeBigInt64BE(i.microseconds, 0);
    b.writeInt32BE(i.days, 8);
    b.writeInt32BE(i.months, 12);
    return b;
  },
  decodeBinary: (raw) => {
    const b = expectLength('interval', raw, 16);
    return { microseconds: b.readBigInt64BE(0), days: b.readInt32BE(8), months: b.readInt32BE(12) };
  },
};
