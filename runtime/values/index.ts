/** Value codecs: PostgreSQL data types in text and binary format, as JavaScript values. */
export { ValueError, type ValueCodec, type DataTypeInfo } from './codec.js';
export { boolCodec } from './bool.js';
export { int2Codec, int4Codec, int8Codec, oidCodec, regclassCodec, regtypeCodec, regprocCodec } from './integers.js';
export { float4Codec, float8Codec, formatFloat } from './floats.js';
export { numericCodec } from './numeric.js';
export { textCodec, varcharCodec, nameCodec, bpcharCodec, charCodec } from './text.js';
export { byteaCodec } from './bytea.js';
export { dateCodec, timeCodec, timestampCodec, timestamptzCodec, toJsDate, daysFromCivil, civilFromDays, type DateInput } from './datetime.js';
export { intervalCodec, parseInterval, formatInterval, type Interval } from './interval.js';
export { uuidCodec } from './uuid.js';
export { jsonCodec, jsonbCodec, formatJsonb } from './json.js';
export { arrayCodec, parseArrayText } from './array.js';
export { codecForOid, codecForName, SCALAR_CODECS, type AnyCodec } from './registry.js';
