/**
 * Accumulates encoded messages in one growing buffer, so a batch of messages becomes one socket
 * write. `take()` hands out the bytes written so far and starts over in fresh memory, so the
 * caller may keep what it took.
 */
import { Buffer } from 'node:buffer';
import { ProtocolEncodeError } from './decode-error.js';

export class Writer {
  buf: Buffer;
  pos = 0;
  private start = 0;
  private messageStart = -1;
  private messageBegin = -1;

  constructor(initialSize = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.pos - this.start;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    let size = this.buf.length * 2;
    while (size < used + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.pos);
    if (this.messageStart >= 0) {
      this.messageStart -= this.start;
      this.messageBegin -= this.start;
    }
    this.pos = used;
    this.start = 0;
    this.buf = next;
  }

  /** Starts a typed message: its type byte and room for the length. */
  beginTyped(typeByte: number): void {
    this.ensure(5);
    this.messageBegin = this.pos;
    this.buf[this.pos] = typeByte;
    this.messageStart = this.pos + 1;
    this.pos += 5;
  }

  /** Starts an untyped (startup-phase) message: room for the length only. */
  beginUntyped(): void {
    this.ensure(4);
    this.messageBegin = this.pos;
    this.messageStart = this.pos;
    this.pos += 4;
  }

  /** Writes the message length (counting itself) into the room left by begin*. */
  end(): void {
    const len = this.pos - this.messageStart;
    this.buf.writeInt32BE(len, this.messageStart);
    this.messageStart = -1;
    this.messageBegin = -1;
  }

  /** Drops a message that failed half-way through encoding. */
  abandon(): void {
    if (this.messageBegin >= 0) this.pos = this.messageBegin;
    this.messageStart = -1;
    this.messageBegin = -1;
  }

  rawByte(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  uint8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  int8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value & 0xff;
  }

  int16(value: number): void {
    this.ensure(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = (value >>> 8) & 0xff;
    b[p + 1] = value & 0xff;
    this.pos = p + 2;
  }

  uint16(value: number): void {
    this.int16(value);
  }

  int32(value: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = (value >>> 24) & 0xff;
    b[p + 1] = (value >>> 16) & 0xff;
    b[p + 2] = (value >>> 8) & 0xff;
    b[p + 3] = value & 0xff;
    this.pos = p + 4;
  }

  uint32(value: number): void {
    this.int32(value);
  }

  int32le(value: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = value & 0xff;
    b[p + 1] = (value >>> 8) & 0xff;
    b[p + 2] = (value >>> 16) & 0xff;
    b[p + 3] = (value >>> 24) & 0xff;
    this.pos = p + 4;
  }

  uint32le(value: number): void {
    this.int32le(value);
  }

  int64(value: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, value), this.pos);
    this.pos += 8;
  }

  byte1(value: string, message: string, field: string): void {
    const c = value.length === 1 ? value.charCodeAt(0) : 256;
    if (c > 255) throw new ProtocolEncodeError(message, field, `expected a single byte character, got ${JSON.stringify(value)}`);
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(value: string): void {
    this.ensure(value.length * 3 + 1);
    this.pos += this.buf.utf8Write(value, this.pos);
    this.buf[this.pos++] = 0;
  }

  bytes(value: Uint8Array): void {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** A UTF-8 string without terminator, preceded by its Int32 byte length. */
  lengthPrefixedText(value: string): void {
    this.ensure(value.length * 3 + 4);
    const at = this.pos;
    this.pos += 4;
    const n = this.buf.utf8Write(value, this.pos);
    this.buf.writeInt32BE(n, at);
    this.pos += n;
  }

  /** The bytes written since the last take(), as a view the caller owns. */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    // The caller owns `out`; later writes go to memory after it, or to a new buffer.
    this.start = this.pos;
    if (this.buf.length - this.pos < 1024) {
      this.buf = Buffer.allocUnsafe(this.buf.length);
      this.pos = 0;
      this.start = 0;
    }
    return out;
  }
}
