/**
 * The values of a DataRow, Bind or FunctionCall: a count of Int32-length-prefixed values where
 * length -1 is NULL. Decoding validates the lengths once and keeps a view of the bytes; values
 * become strings or byte views only when asked for, which is where a result set's time goes.
 *
 * A decoded list views the decoder's input buffer: copy what you keep beyond the next chunk
 * only if you reuse that buffer yourself (the generated stream decoders never overwrite it).
 */
import { Buffer } from 'node:buffer';
import { decodeUtf8 } from './utf8.js';

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
    let size = 0;
    const encoded: (Uint8Array | null)[] = new Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      const bytes = v === null || v === undefined ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      encoded[i] = bytes;
      size += 4 + (bytes === null ? 0 : bytes.length);
    }
    const buf = Buffer.allocUnsafe(size);
    let pos = 0;
    for (const bytes of encoded) {
      if (bytes === null) {
        buf.writeInt32BE(-1, pos);
        pos += 4;
      } else {
        buf.writeInt32BE(bytes.length, pos);
        buf.set(bytes, pos + 4);
        pos += 4 + bytes.length;
      }
    }
    return new ValueList(buf, 0, size, values.length);
  }

  /** The list's wire bytes (without the count), for the encoders. */
  get wireBytes(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
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
