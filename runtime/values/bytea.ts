/** bytea: bytes; text output is hex ('\x0aff'), text input also takes the old escape format. */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { asBuffer, invalidText, wrongValue, type ValueCodec } from './codec.js';

function check(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw wrongValue('bytea', v);
  return v;
}

function parseEscape(text: string): Buffer {
  const out: number[] = [];
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    if (bytes[i + 1] === 0x5c) {
      out.push(0x5c);
      i++;
      continue;
    }
    const oct = text.length >= i + 4 ? bytes.subarray(i + 1, i + 4).toString('latin1') : '';
    if (!/^[0-3][0-7]{2}$/.test(oct)) throw invalidText('bytea', text);
    out.push(parseInt(oct, 8));
    i += 3;
  }
  return Buffer.from(out);
}

export const byteaCodec: ValueCodec<Uint8Array> = {
  type: DATA_TYPES.bytea,
  encodeText: (v) => `\\x${asBuffer(check(v)).toString('hex')}`,
  decodeText: (text) => {
    if (text.startsWith('\\x')) {
      const hex = text.slice(2).replace(/\s+/g, '');
      if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw invalidText('bytea', text);
      return Buffer.from(hex, 'hex');
    }
    return parseEscape(text);
  },
  encodeBinary: (v) => check(v),
  decodeBinary: (b) => Buffer.from(b),
};
