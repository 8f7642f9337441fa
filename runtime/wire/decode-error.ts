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
  | 'unexpected-context';

/**
 * A malformed message. The only exception the generated decoders throw on bad input; its
 * SQLSTATE is 08P01 (protocol_violation), which is what a server answers before closing.
 */
export class ProtocolDecodeError extends Error {
  readonly sqlstate = '08P01';
  /** The type byte of the typed message being decoded, set by the stream decoder. */
  typeByte: number | undefined;
  constructor(
    readonly code: DecodeErrorCode,
    /** The message being decoded, or the type byte when the message is unknown. */
    readonly messageName: string,
    message: string,
  ) {
    super(`${messageName}: ${message}`);
    this.name = 'ProtocolDecodeError';
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
