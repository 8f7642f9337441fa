/**
 * Reads one message body. Every read checks the bytes that remain and throws a
 * ProtocolDecodeError naming the message, so a decoder never reads past its message and never
 * allocates more than the message holds.
 */
import { decodeUtf8, decodeValidUtf8, invalidSequenceBytes, invalidUtf8At } from './utf8.js';
import { ProtocolDecodeError } from './decode-error.js';
import { ValueList } from './value-list.js';

export class Reader {
  buf: Uint8Array;
  pos: number;
  end: number;
  /** The message being decoded, for error messages. */
  message: string;
  /**
   * Strings must be well-formed UTF-8 (the stream decoder sets this from its context's
   * validateUtf8): a string that is not fails with `invalid-encoding` (22021), in PostgreSQL's
   * words. Otherwise ill-formed bytes decode to U+FFFD.
   */
  validateUtf8 = false;

  constructor(buf: Uint8Array, start = 0, end = buf.length, message = 'message') {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.message = message;
  }

  reset(buf: Uint8Array, start: number, end: number, message: string): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.message = message;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(code: ProtocolDecodeError['code'], text: string): never {
    throw new ProtocolDecodeError(code, this.message, text);
  }

  need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      this.fail('truncated', `${what} needs ${n} bytes but ${this.end - this.pos} remain`);
    }
  }

  uint8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  int8(what: string): number {
    return (this.uint8(what) << 24) >> 24;
  }

  uint16(what: string): number {
    this.need(2, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  int16(what: string): number {
    return (this.uint16(what) << 16) >> 16;
  }

  int32(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  uint32(what: string): number {
    return this.int32(what) >>> 0;
  }

  int32le(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
  }

  uint32le(what: string): number {
    return this.int32le(what) >>> 0;
  }

  int64(what: string): bigint {
    const hi = this.int32(what);
    const lo = this.uint32(what);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  byte1(what: string): string {
    return String.fromCharCode(this.uint8(what));
  }

  peekUint8(): number {
    return this.pos < this.end ? this.buf[this.pos]! : -1;
  }

  peekInt32(): number | undefined {
    if (this.end - this.pos < 4) return undefined;
    const b = this.buf;
    const p = this.pos;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  cstring(what: string): string {
    const b = this.buf;
    const start = this.pos;
    const nul = b.indexOf(0, start);
    if (nul < 0 || nul >= this.end) this.fail('unterminated-string', `${what} has no terminating zero byte`);
    this.pos = nul + 1;
    if (!this.validateUtf8) return decodeUtf8(b, start, nul);
    const text = decodeValidUtf8(b, start, nul);
    if (text === undefined) this.invalidEncoding(start, nul);
    return text;
  }

  /** PostgreSQL's report of text that is not UTF-8: the bytes of the first ill-formed sequence. */
  private invalidEncoding(start: number, end: number): never {
    const at = invalidUtf8At(this.buf, start, end);
    this.fail('invalid-encoding', `invalid byte sequence for encoding "UTF8": ${invalidSequenceBytes(this.buf, at, end)}`);
  }

  /** A view of the next n bytes (no copy). */
  bytes(n: number, what: string): Uint8Array {
    if (n < 0) this.fail('negative-length', `${what} has negative length ${n}`);
    this.need(n, what);
    const start = this.pos;
    this.pos = start + n;
    return this.buf.subarray(start, start + n);
  }

  rest(): Uint8Array {
    const start = this.pos;
    this.pos = this.end;
    return this.buf.subarray(start, this.end);
  }

  /** Throws unless every element of a count-prefixed array could still fit in what remains. */
  checkCount(count: number, minItemSize: number, what: string): void {
    if (count < 0) this.fail('negative-length', `${what} has negative count ${count}`);
    if (count * minItemSize > this.end - this.pos) {
      this.fail('count-exceeds-remaining', `${what} claims ${count} items but only ${this.end - this.pos} bytes remain`);
    }
  }

  checkLength(len: number, min: number, max: number, what: string): void {
    if (len < min || len > max) {
      this.fail('invalid-value', `${what} is ${len} bytes long; expected ${min === max ? min : `${min} to ${max}`}`);
    }
  }

  /**
   * A count of Int32-length-prefixed values (-1 = NULL): validates every length against what
   * remains in one pass and returns a lazy view, no per-value work.
   */
  valueList(count: number, what: string): ValueList {
    this.checkCount(count, 4, what);
    const b = this.buf;
    const start = this.pos;
    const end = this.end;
    let p = start;
    for (let k = 0; k < count; k++) {
      if (end - p < 4) this.fail('truncated', `${what} value ${k} needs a length but ${end - p} bytes remain`);
      const len = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
      p += 4;
      if (len > 0) {
        if (end - p < len) this.fail('truncated', `${what} value ${k} claims ${len} bytes but ${end - p} remain`);
        p += len;
      } else if (len < -1) {
        this.fail('negative-length', `${what} value ${k} has length ${len}; -1 (NULL) is the only negative length allowed`);
      }
    }
    this.pos = p;
    return new ValueList(b, start, p, count);
  }

  /** Throws if bytes remain after the last field. */
  finish(): void {
    if (this.pos !== this.end) this.fail('trailing-bytes', `${this.end - this.pos} bytes left after the last field`);
  }
}
