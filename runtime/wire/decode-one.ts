/**
 * Decodes exactly one whole message from a byte array, with the same tables, limits and checks
 * as a stream: for tests, tools and one-off parsing where the bytes of a single message are at
 * hand. Too few bytes is `truncated`; bytes after the message are `trailing-bytes`.
 */
import { ProtocolDecodeError } from './decode-error.js';
import { StreamDecoder, type DecodeContext, type DirectionTable, type Framing } from './stream-decoder.js';

export interface DecodeOneOptions {
  /** 'startup' for the untyped first packets; typed by default. */
  readonly framing?: Framing;
  readonly context?: DecodeContext;
  /** The request ("SSLRequest") whose one-byte reply these bytes may be. */
  readonly expectReply?: string;
}

export function decodeOne<M>(table: DirectionTable<M>, bytes: Uint8Array, options: DecodeOneOptions = {}): M {
  const decoder = new StreamDecoder(table, { framing: options.framing, context: options.context });
  decoder.expectReply = options.expectReply;
  decoder.push(bytes);
  const message = decoder.next();
  if (message === undefined) {
    throw new ProtocolDecodeError('truncated', nameOf(table, bytes, options.framing), `${bytes.length} bytes do not hold a whole message`);
  }
  if (decoder.buffered > 0) {
    throw new ProtocolDecodeError('trailing-bytes', nameOf(table, bytes, options.framing), `${decoder.buffered} bytes left after one whole message`);
  }
  return message;
}

function nameOf<M>(table: DirectionTable<M>, bytes: Uint8Array, framing: Framing | undefined): string {
  if (framing === 'startup') return 'startup packet';
  return (bytes.length > 0 ? table.typed[bytes[0]!]?.name : undefined) ?? 'message';
}
