/**
 * Every codec this package has, by type OID and by name, with an array codec for each element type
 * the spec gives an array OID. Engines look types up here; the OIDs themselves come from DATA_TYPES.
 */
import { arrayCodec } from './array.js';
import { boolCodec } from './bool.js';
import { byteaCodec } from './bytea.js';
import type { ValueCodec } from './codec.js';
import { dateCodec, timeCodec, timestampCodec, timestamptzCodec } from './datetime.js';
import { float4Codec, float8Codec } from './floats.js';
import { int2Codec, int4Codec, int8Codec, oidCodec, regclassCodec, regprocCodec, regtypeCodec } from './integers.js';
import { intervalCodec } from './interval.js';
import { jsonbCodec, jsonCodec } from './json.js';
import { numericCodec } from './numeric.js';
import { bpcharCodec, charCodec, nameCodec, textCodec, varcharCodec } from './text.js';
import { uuidCodec } from './uuid.js';

/** A codec whose JavaScript types are not known statically (what an engine deals with). */
export type AnyCodec = ValueCodec<unknown, unknown>;

const SCALARS = [
  boolCodec,
  byteaCodec,
  charCodec,
  nameCodec,
  int8Codec,
  int2Codec,
  int4Codec,
  regprocCodec,
  textCodec,
  oidCodec,
  jsonCodec,
  float4Codec,
  float8Codec,
  bpcharCodec,
  varcharCodec,
  dateCodec,
  timeCodec,
  timestampCodec,
  timestamptzCodec,
  intervalCodec,
  numericCodec,
  regclassCodec,
  regtypeCodec,
  uuidCodec,
  jsonbCodec,
] as unknown as AnyCodec[];

const BY_OID = new Map<number, AnyCodec>();
const BY_NAME = new Map<string, AnyCodec>();
for (const codec of SCALARS) {
  BY_OID.set(codec.type.oid, codec);
  BY_NAME.set(codec.type.name, codec);
  if (codec.type.arrayOid !== undefined) {
    const array = arrayCodec(codec) as AnyCodec;
    BY_OID.set(array.type.oid, array);
    BY_NAME.set(array.type.name, array);
    BY_NAME.set(`${codec.type.name}[]`, array);
  }
}

/** The codec for a type OID, if there is one. */
export function codecForOid(oid: number): AnyCodec | undefined {
  return BY_OID.get(oid);
}

/** The codec for a type name as the spec spells it ('int8', 'timestamptz'), its array ('_int8' or 'int8[]'). */
export function codecForName(name: string): AnyCodec | undefined {
  return BY_NAME.get(name);
}

/** Every scalar codec. */
export const SCALAR_CODECS: readonly AnyCodec[] = SCALARS;
