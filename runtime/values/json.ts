/**
 * json and jsonb as parsed JavaScript values. json text is JSON.stringify's compact form; jsonb
 * text is PostgreSQL's normalised form (keys ordered by length then bytes, the last duplicate
 * wins, ", " and ": " separators). jsonb binary is a version byte (1) before the text.
 */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { invalidBinary, invalidText, ValueError, type ValueCodec } from './codec.js';
import { decodeUtf8 } from '../wire/utf8.js';

const JSONB_VERSION = 1;

function parseJson(typeName: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalidText(typeName, text);
  }
}

function stringify(value: unknown): string {
  const s = JSON.stringify(value);
  if (s === undefined) throw new ValueError('42804', `cannot encode ${typeof value} as json`);
  return s;
}

function compareKeys(a: string, b: string): number {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length - bb.length || Buffer.compare(ab, bb);
}

/** PostgreSQL's jsonb output: normalised key order and spacing. */
export function formatJsonb(value: unknown): string {
  if (value === null || typeof value !== 'object') return stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => formatJsonb(v === undefined ? null : v)).join(', ')}]`;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return formatJsonb(JSON.parse(stringify(value)));
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => compareKeys(a, b));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${formatJsonb(v)}`).join(', ')}}`;
}

export const jsonCodec: ValueCodec<unknown> = {
  type: DATA_TYPES.json,
  encodeText: stringify,
  decodeText: (text) => parseJson('json', text),
  encodeBinary: (v) => Buffer.from(stringify(v), 'utf8'),
  decodeBinary: (b) => parseJson('json', decodeUtf8(b, 0, b.length)),
};

export const jsonbCodec: ValueCodec<unknown> = {
  type: DATA_TYPES.jsonb,
  encodeText: formatJsonb,
  decodeText: (text) => parseJson('jsonb', text),
  encodeBinary: (v) => Buffer.concat([Buffer.of(JSONB_VERSION), Buffer.from(formatJsonb(v), 'utf8')]),
  decodeBinary: (b) => {
    if (b.length === 0 || b[0] !== JSONB_VERSION) throw invalidBinary('jsonb', `unsupported jsonb version number ${b[0] ?? 'none'}`);
    return parseJson('jsonb', decodeUtf8(b, 1, b.length));
  },
};
