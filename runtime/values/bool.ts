/** bool: text 't'/'f' (input also takes true/false, yes/no, on/off, 1/0 and their prefixes), binary one byte. */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { expectLength, invalidText, wrongValue, type ValueCodec } from './codec.js';

const TRUE_WORDS = ['true', 'yes', 'on', '1'];
const FALSE_WORDS = ['false', 'no', 'off', '0'];

function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  // PostgreSQL accepts any unique prefix of the words, but 'o' alone is ambiguous.
  if (t.length > 0 && !(t === 'o')) {
    if (TRUE_WORDS.some((w) => w.startsWith(t))) return true;
    if (FALSE_WORDS.some((w) => w.startsWith(t))) return false;
  }
  throw invalidText('boolean', text);
}

function check(value: unknown): boolean {
  if (typeof value !== 'boolean') throw wrongValue('bool', value);
  return value;
}

export const boolCodec: ValueCodec<boolean> = {
  type: DATA_TYPES.bool,
  encodeText: (v) => (check(v) ? 't' : 'f'),
  decodeText: parseBool,
  encodeBinary: (v) => Buffer.of(check(v) ? 1 : 0),
  decodeBinary: (b) => expectLength('bool', b, 1)[0] !== 0,
};
