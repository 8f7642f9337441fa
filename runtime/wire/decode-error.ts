/** Why a byte sequence is not a valid message. */
export type DecodeErrorCode =
  | 'truncated'
  | 'invalid-length'
  | 'too-long'
  | 'negative-length'
  | 'count-exceeds-remaining'
  | 'unknown-type'
  | 'unknown-code'
  | 'trailing-bytes'
  | 'invalid-value'
  | 'unterminated-string'
  | 'invalid-encoding'
  | 'unexpected-context';

/**
 * A malformed message. The only exception the generated decoders throw on bad input; its
 * SQLSTATE is 08P01 (protocol_violation), or 22021 (character_not_in_repertoire) for text that
 * is not valid UTF-8.
 */
export class ProtocolDecodeError extends Error {
  readonly sqlstate: string;
  /** The type byte of the typed message being decoded, set by the stream decoder. */
  typeByte: number | undefined;
  /**
   * The whole message (type byte, length, body), set by the stream decoder when its framing was
   * sound and only its body is bad: the decoder has moved past it and can go on. PostgreSQL
   * answers such a message with an ERROR and carries on; a bad frame loses the stream.
   */
  frame: Uint8Array | undefined;
  constructor(
    readonly code: DecodeErrorCode,
    /** The message being decoded, or the type byte when the message is unknown. */
    readonly messageName: string,
    message: string,
  ) {
    super(`${messageName}: ${message}`);
    this.name = 'ProtocolDecodeError';
    this.sqlstate = code === 'invalid-encoding' ? '22021' : '08P01';
  }
}

/** A value that cannot be encoded (out of range, wrong width). Thrown by the generated encoders. */
export class ProtocolEncodeError extends Error {
  constructor(
    readonly messageName: string,
    readonly field: string,
    message: string,
  ) {
    super(`${messageName}.${field}: ${message}`);
    this.name = 'ProtocolEncodeError';
  }
}
