/**
 * The values of a DataRow, Bind or FunctionCall: a count of Int32-length-prefixed values where
 * length -1 is NULL. Decoding validates the lengths once and keeps a view of the bytes; values
 * become strings or byte views only when asked for, which is where a result set's time goes.
 *
 * A decoded list views the decoder's input buffer: copy what you keep beyond the next chunk
 * only if you reuse that buffer yourself (the generated stream decoders never overwrite it).
 */
import { Buffer } from 'node:buffer';
import { decodeUtf8, utf8Length, writeUtf8 } from './utf8.js';

export type ValueInit = string | Uint8Array | null;

export class ValueList implements Iterable<Uint8Array | null> {
  /** Wire bytes: repeated Int32 length + bytes, `length` times. */
  private readonly buf: Uint8Array;
  private readonly start: number;
  private readonly end: number;
  readonly length: number;
  /** Offsets of each value's length prefix, filled on first indexed access. */
  private offsets: Int32Array | undefined;

  /** Wraps already-validated wire bytes. Used by the generated decoders. */
  constructor(buf: Uint8Array, start: number, end: number, count: number) {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.length = count;
  }

  /** Builds a list from JavaScript values (strings are UTF-8 encoded). */
  static from(values: readonly ValueInit[]): ValueList {
    const count = values.length;
    // The size first, so the bytes are written once, straight into memory of the exact size.
    let size = 4 * count;
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (v !== null && v !== undefined) size += typeof v === 'string' ? utf8Length(v) : v.length;
    }
    const buf = Buffer.allocUnsafe(size);
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const v = values[i];
      let n = -1;
      if (typeof v === 'string') n = writeUtf8(buf, pos + 4, v);
      else if (v !== null && v !== undefined) {
        buf.set(v, pos + 4);
        n = v.length;
      }
      buf[pos] = n >>> 24;
      buf[pos + 1] = (n >>> 16) & 0xff;
      buf[pos + 2] = (n >>> 8) & 0xff;
      buf[pos + 3] = n & 0xff;
      pos += 4 + (n < 0 ? 0 : n);
    }
    return new ValueList(buf, 0, size, count);
  }

  /** The list's wire bytes (without the count), for the encoders. */
  get wireBytes(): Uint8Array {
    const b = this.buf;
    // A list that owns its whole buffer (any list built by from()) needs no new view.
    return this.start === 0 && this.end === b.length ? b : b.subarray(this.start, this.end);
  }

  private offsetOf(i: number): number {
    if (i < 0 || i >= this.length) throw new RangeError(`value index ${i} out of range 0..${this.length - 1}`);
    let offsets = this.offsets;
    if (offsets === undefined) {
      offsets = new Int32Array(this.length);
      const b = this.buf;
      let p = this.start;
      for (let k = 0; k < this.length; k++) {
        offsets[k] = p;
        const len = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
        p += 4 + (len < 0 ? 0 : len);
      }
      this.offsets = offsets;
    }
    return offsets[i]!;
  }

  private lengthAt(p: number): number {
    const b = this.buf;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  isNull(i: number): boolean {
    return this.lengthAt(this.offsetOf(i)) < 0;
  }

  /** The i-th value as a view of its bytes, or null. */
  get(i: number): Uint8Array | null {
    const p = this.offsetOf(i);
    const len = this.lengthAt(p);
    return len < 0 ? null : this.buf.subarray(p + 4, p + 4 + len);
  }

  /** The i-th value decoded as UTF-8 text, or null. */
  text(i: number): string | null {
    const p = this.offsetOf(i);
    const len = this.lengthAt(p);
    return len < 0 ? null : decodeUtf8(this.buf, p + 4, p + 4 + len);
  }

  /** Every value as text (null stays null), in one pass. */
  texts(): (string | null)[] {
    const out: (string | null)[] = new Array(this.length);
    const b = this.buf;
    let p = this.start;
    for (let k = 0; k < this.length; k++) {
      const len = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
      p += 4;
      if (len < 0) out[k] = null;
      else {
        out[k] = decodeUtf8(b, p, p + len);
        p += len;
      }
    }
    return out;
  }

  /** Every value as a byte view (null stays null). */
  toArray(): (Uint8Array | null)[] {
    const out: (Uint8Array | null)[] = new Array(this.length);
    const b = this.buf;
    let p = this.start;
    for (let k = 0; k < this.length; k++) {
      const len = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
      p += 4;
      if (len < 0) out[k] = null;
      else {
        out[k] = b.subarray(p, p + len);
        p += len;
      }
    }
    return out;
  }

  [Symbol.iterator](): Iterator<Uint8Array | null> {
    return this.toArray()[Symbol.iterator]();
  }

  /** For test output and JSON: the values as text where valid UTF-8 is expected. */
  toJSON(): (string | null)[] {
    return this.texts();
  }
}
