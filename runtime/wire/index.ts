/** The small library the generated codecs import: readers, writers, errors and value views. */
export { Reader } from './reader.js';
export { Writer } from './writer.js';
export { ValueList, type ValueInit } from './value-list.js';
export { ProtocolDecodeError, ProtocolEncodeError, type DecodeErrorCode } from './decode-error.js';
export { StreamDecoder, type DecodeContext, type DirectionTable, type TypedEntry, type StartupEntry, type Framing } from './stream-decoder.js';
export { decodeUtf8 } from './utf8.js';
export { decodeOne, type DecodeOneOptions } from './decode-one.js';
