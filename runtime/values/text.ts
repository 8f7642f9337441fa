/** text, varchar, name, bpchar and "char": strings whose binary form is their UTF-8 bytes. */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { expectLength, wrongValue, type DataTypeInfo, type ValueCodec } from './codec.js';
import { decodeUtf8 } from '../wire/utf8.js';

function stringCodec(type: DataTypeInfo): ValueCodec<string> {
  const check = (v: unknown): string => {
    if (typeof v !== 'string') throw wrongValue(type.name, v);
    return v;
  };
  return {
    type,
    encodeText: check,
    decodeText: (text) => text,
    encodeBinary: (v) => Buffer.from(check(v), 'utf8'),
    decodeBinary: (b) => decodeUtf8(b, 0, b.length),
  };
}

export const textCodec = stringCodec(DATA_TYPES.text);
export const varcharCodec = stringCodec(DATA_TYPES.varchar);
export const nameCodec = stringCodec(DATA_TYPES.name);
export const bpcharCodec = stringCodec(DATA_TYPES.bpchar);

/** "char": one byte. Text shows bytes above 127 as a backslash and three octal digits, as PostgreSQL's charout does. */
export const charCodec: ValueCodec<string> = {
  type: DATA_TYPES.char,
  encodeText: (v) => {
    if (typeof v !== 'string') throw wrongValue('char', v);
    const code = v.length === 0 ? 0 : v.charCodeAt(0);
    if (code === 0) return '';
    return code > 127 ? `\\${(code & 0xff).toString(8).padStart(3, '0')}` : String.fromCharCode(code);
  },
  decodeText: (text) => {
    const octal = /^\\([0-3][0-7]{2})$/.exec(text);
    if (octal) return String.fromCharCode(parseInt(octal[1]!, 8));
    const first = Buffer.from(text, 'utf8')[0];
    return first === undefined ? '' : String.fromCharCode(first);
  },
  encodeBinary: (v) => {
    if (typeof v !== 'string') throw wrongValue('char', v);
    return v.length === 0 ? Buffer.alloc(0) : Buffer.of(v.charCodeAt(0) & 0xff);
  },
  decodeBinary: (b) => (b.length === 0 ? '' : String.fromCharCode(expectLength('char', b, 1)[0]!)),
};
