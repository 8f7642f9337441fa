/**
 * Accumulates encoded messages in one growing buffer, so a batch of messages becomes one socket
 * write. `take()` hands out the bytes written so far and starts over in fresh memory, so the
 * caller may keep what it took.
 */
import { Buffer } from 'node:buffer';
import { ProtocolEncodeError } from './decode-error.js';
import { utf8Length, writeUtf8 } from './utf8.js';
import { ValueList, type ValueInit } from './value-list.js';

export class Writer {
  buf: Buffer;
  pos = 0;
  private start = 0;
  private messageStart = -1;
  private messageBegin = -1;
  /** The message being encoded, for errors. */
  messageName = 'message';

  constructor(initialSize = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.pos - this.start;
  }

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /** Kept out of ensure() so the hot check stays small enough to inline everywhere. */
  private grow(n: number): void {
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
  beginTyped(typeByte: number, messageName = 'message'): void {
    this.messageName = messageName;
    this.ensure(5);
    this.messageBegin = this.pos;
    this.buf[this.pos] = typeByte;
    this.messageStart = this.pos + 1;
    this.pos += 5;
  }

  /** Starts an untyped (startup-phase) message: room for the length only. */
  beginUntyped(messageName = 'message'): void {
    this.messageName = messageName;
    this.ensure(4);
    this.messageBegin = this.pos;
    this.messageStart = this.pos;
    this.pos += 4;
  }

  /** Writes the message length (counting itself) into the room left by begin*. */
  end(): void {
    const at = this.messageStart;
    const len = this.pos - at;
    if (len > 0x7fffffff) throw new RangeError(`message length ${len} does not fit an Int32`);
    const b = this.buf;
    b[at] = len >>> 24;
    b[at + 1] = (len >>> 16) & 0xff;
    b[at + 2] = (len >>> 8) & 0xff;
    b[at + 3] = len & 0xff;
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
    if (!(value >= 0 && value <= 255 && Number.isInteger(value))) this.outOfRange(value, 'uint8');
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  int8(value: number): void {
    if (!(value >= -128 && value <= 127 && Number.isInteger(value))) this.outOfRange(value, 'int8');
    this.ensure(1);
    this.buf[this.pos++] = value & 0xff;
  }

  int16(value: number): void {
    if (!(value >= -32768 && value <= 32767 && Number.isInteger(value))) this.outOfRange(value, 'int16');
    this.put16(value);
  }

  uint16(value: number): void {
    if (!(value >= 0 && value <= 65535 && Number.isInteger(value))) this.outOfRange(value, 'uint16');
    this.put16(value);
  }

  int32(value: number): void {
    if (!(value >= -2147483648 && value <= 2147483647 && Number.isInteger(value))) this.outOfRange(value, 'int32');
    this.put32(value);
  }

  uint32(value: number): void {
    if (!(value >= 0 && value <= 4294967295 && Number.isInteger(value))) this.outOfRange(value, 'uint32');
    this.put32(value);
  }

  int32le(value: number): void {
    if (!(value >= -2147483648 && value <= 2147483647 && Number.isInteger(value))) this.outOfRange(value, 'int32le');
    this.put32le(value);
  }

  uint32le(value: number): void {
    if (!(value >= 0 && value <= 4294967295 && Number.isInteger(value))) this.outOfRange(value, 'uint32le');
    this.put32le(value);
  }

  private put16(value: number): void {
    this.ensure(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = (value >>> 8) & 0xff;
    b[p + 1] = value & 0xff;
    this.pos = p + 2;
  }

  private put32(value: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = (value >>> 24) & 0xff;
    b[p + 1] = (value >>> 16) & 0xff;
    b[p + 2] = (value >>> 8) & 0xff;
    b[p + 3] = value & 0xff;
    this.pos = p + 4;
  }

  private put32le(value: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = value & 0xff;
    b[p + 1] = (value >>> 8) & 0xff;
    b[p + 2] = (value >>> 16) & 0xff;
    b[p + 3] = (value >>> 24) & 0xff;
    this.pos = p + 4;
  }

  private outOfRange(value: number, wire: string): never {
    throw new ProtocolEncodeError(this.messageName, wire, `${value} does not fit a ${wire}`);
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
    if (value.indexOf('\0') !== -1) throw new ProtocolEncodeError(this.messageName, 'cstring', 'a string holding a zero byte would end early');
    this.roomForText(value, 1);
    let p = this.pos;
    p += writeUtf8(this.buf, p, value);
    this.buf[p] = 0;
    this.pos = p + 1;
  }

  bytes(value: Uint8Array): void {
    const n = value.length;
    this.ensure(n);
    // TypedArray.set measured as fast as a JavaScript loop from 8 bytes up, so it is always used.
    this.buf.set(value, this.pos);
    this.pos += n;
  }

  /**
   * The values of a list (not its count), each Int32-length-prefixed, -1 for NULL. Given plain
   * values it writes them straight into this buffer: no ValueList, no intermediate copy, which
   * halves the cost of a Bind or DataRow built from JavaScript values.
   */
  values(list: ValueList | readonly ValueInit[]): void {
    if (list instanceof ValueList) {
      this.bytes(list.wireBytes);
      return;
    }
    for (let i = 0; i < list.length; i++) {
      const v = list[i];
      if (v === null || v === undefined) this.int32(-1);
      else if (typeof v === 'string') this.lengthPrefixedText(v);
      else {
        this.int32(v.length);
        this.bytes(v);
      }
    }
  }

  /** A UTF-8 string without terminator, preceded by its Int32 byte length. */
  lengthPrefixedText(value: string): void {
    this.roomForText(value, 4);
    const b = this.buf;
    const at = this.pos;
    const n = writeUtf8(b, at + 4, value);
    b[at] = n >>> 24;
    b[at + 1] = (n >>> 16) & 0xff;
    b[at + 2] = (n >>> 8) & 0xff;
    b[at + 3] = n & 0xff;
    this.pos = at + 4 + n;
  }

  /**
   * Room for `value` as UTF-8 plus `extra` bytes. Three bytes per UTF-16 unit always suffice;
   * only when that much is not free is the exact length worth computing, so a long string does
   * not grow the buffer to three times its size.
   */
  private roomForText(value: string, extra: number): void {
    const worst = value.length * 3 + extra;
    if (this.pos + worst > this.buf.length) this.ensure(utf8Length(value) + extra);
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
