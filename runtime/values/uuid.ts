/** uuid as a lowercase hyphenated string; text input also takes braces, upper case and no hyphens. */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { expectLength, invalidText, wrongValue, type ValueCodec } from './codec.js';

function hexOf(text: string): string {
  let t = text.trim();
  if (t.startsWith('{') && t.endsWith('}')) t = t.slice(1, -1);
  // PostgreSQL allows a hyphen after any group of four hex digits.
  if (!/^[0-9a-fA-F]{4}(-?[0-9a-fA-F]{4}){7}$/.test(t)) throw invalidText('uuid', text);
  return t.replace(/-/g, '').toLowerCase();
}

function format(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function check(v: unknown): string {
  if (typeof v !== 'string') throw wrongValue('uuid', v);
  return hexOf(v);
}

export const uuidCodec: ValueCodec<string> = {
  type: DATA_TYPES.uuid,
  encodeText: (v) => format(check(v)),
  decodeText: (text) => format(hexOf(text)),
  encodeBinary: (v) => Buffer.from(check(v), 'hex'),
  decodeBinary: (b) => format(expectLength('uuid', b, 16).toString('hex')),
};
