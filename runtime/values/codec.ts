/**
 * The shape every value codec has: one PostgreSQL type, its text and binary wire formats, and the
 * JavaScript value it maps to. Type OIDs and sizes come from the spec (DATA_TYPES), never from here.
 */
import { Buffer } from 'node:buffer';

/** A data type as the spec describes it. */
export interface DataTypeInfo {
  readonly name: string;
  readonly oid: number;
  readonly size: number;
  readonly arrayOid?: number | undefined;
}

/**
 * Encodes and decodes values of one type. `T` is what decoding gives; `In` is what encoding
 * accepts (usually `T` and a few convenient extras, such as a Date for a timestamp).
 */
export interface ValueCodec<T = unknown, In = T> {
  readonly type: DataTypeInfo;
  encodeText(value: In): string;
  decodeText(text: string): T;
  encodeBinary(value: In): Uint8Array;
  decodeBinary(bytes: Uint8Array): T;
}

/** A value that does not fit its type or format, with the SQLSTATE PostgreSQL reports for it. */
export class ValueError extends Error {
  constructor(
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
    this.name = 'ValueError';
  }
}

/** 22P02: text that is not a valid literal of the type. */
export function invalidText(typeName: string, text: string): ValueError {
  return new ValueError('22P02', `invalid input syntax for type ${typeName}: "${text}"`);
}

/** 22P03: binary bytes that are not a valid value of the type. */
export function invalidBinary(typeName: string, detail = 'incorrect binary data format'): ValueError {
  return new ValueError('22P03', `${detail} (type ${typeName})`);
}

/** 42804: a JavaScript value that cannot stand for the type (a handler returned the wrong kind of value). */
export function wrongValue(typeName: string, value: unknown): ValueError {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new ValueError('42804', `cannot encode ${typeof value} ${shown.slice(0, 60)} as ${typeName}`);
}

/** Checks a fixed-width binary value's length. */
export function expectLength(typeName: string, bytes: Uint8Array, length: number): Buffer {
  if (bytes.length !== length) throw invalidBinary(typeName, `expected ${length} bytes, got ${bytes.length}`);
  return asBuffer(bytes);
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Left-pads a non-negative integer with zeros. */
export function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, '0');
}
