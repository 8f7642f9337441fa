/** int2, int4 (JavaScript numbers) and int8 (bigint): decimal text, big-endian binary. */
import { Buffer } from 'node:buffer';
import { DATA_TYPES } from '../../generated/index.js';
import { expectLength, invalidText, ValueError, wrongValue, type DataTypeInfo, type ValueCodec } from './codec.js';

const INTEGER = /^\s*[+-]?\d+\s*$/;

function outOfRange(sqlName: string, shown: string): ValueError {
  return new ValueError('22003', `value "${shown}" is out of range for type ${sqlName}`);
}

function smallInteger(type: DataTypeInfo, sqlName: string, bits: 16 | 32): ValueCodec<number> {
  const min = -(2 ** (bits - 1));
  const max = 2 ** (bits - 1) - 1;
  const bytes = bits / 8;
  const check = (v: unknown): number => {
    if (typeof v === 'bigint' && v >= BigInt(min) && v <= BigInt(max)) return Number(v);
    if (typeof v !== 'number' || !Number.isInteger(v)) throw wrongValue(type.name, v);
    if (v < min || v > max) throw outOfRange(sqlName, String(v));
    return v;
  };
  return {
    type,
    encodeText: (v) => String(check(v)),
    decodeText: (text) => {
      if (!INTEGER.test(text)) throw invalidText(sqlName, text);
      const n = Number(text);
      if (n < min || n > max) throw outOfRange(sqlName, text.trim());
      return n === 0 ? 0 : n;
    },
    encodeBinary: (v) => {
      const b = Buffer.allocUnsafe(bytes);
      if (bits === 16) b.writeInt16BE(check(v));
      else b.writeInt32BE(check(v));
      return b;
    },
    decodeBinary: (raw) => {
      const b = expectLength(type.name, raw, bytes);
      return bits === 16 ? b.readInt16BE(0) : b.readInt32BE(0);
    },
  };
}

export const int2Codec = smallInteger(DATA_TYPES.int2, 'smallint', 16);
export const int4Codec = smallInteger(DATA_TYPES.int4, 'integer', 32);

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

function toInt8(v: unknown): bigint {
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && INTEGER.test(v)) n = BigInt(v.trim());
  else throw wrongValue('int8', v);
  if (n < INT8_MIN || n > INT8_MAX) throw outOfRange('bigint', String(n));
  return n;
}

/** int8 decodes to bigint; encoding also takes safe-integer numbers and decimal strings. */
export const int8Codec: ValueCodec<bigint, bigint | number | string> = {
  type: DATA_TYPES.int8,
  encodeText: (v) => toInt8(v).toString(),
  decodeText: (text) => {
    if (!INTEGER.test(text)) throw invalidText('bigint', text);
    const n = BigInt(text.trim());
    if (n < INT8_MIN || n > INT8_MAX) throw outOfRange('bigint', text.trim());
    return n;
  },
  encodeBinary: (v) => {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(toInt8(v));
    return b;
  },
  decodeBinary: (raw) => expectLength('int8', raw, 8).readBigInt64BE(0),
};

/** oid and the reg* types: unsigned 32-bit; text is the decimal number (reg* names are the handler's business). */
function oidLike(type: DataTypeInfo): ValueCodec<number> {
  const check = (v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw wrongValue(type.name, v);
    return v;
  };
  return {
    type,
    encodeText: (v) => String(check(v)),
    decodeText: (text) => {
      if (!INTEGER.test(text)) throw invalidText(type.name, text);
      const n = Number(text);
      // PostgreSQL's oidin wraps negative input the way strtoul does.
      if (n < -0x80000000 || n > 0xffffffff) throw outOfRange(type.name, text.trim());
      return n < 0 ? n + 0x100000000 : n;
    },
    encodeBinary: (v) => {
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(check(v));
      return b;
    },
    decodeBinary: (raw) => expectLength(type.name, raw, 4).readUInt32BE(0),
  };
}

export const oidCodec = oidLike(DATA_TYPES.oid);
export const regclassCodec = oidLike(DATA_TYPES.regclass);
export const regtypeCodec = oidLike(DATA_TYPES.regtype);
export const regprocCodec = oidLike(DATA_TYPES.regproc);
