/**
 * UTF-8 text <-> bytes, tuned for the many short strings of a result set: short ASCII runs are
 * built in JavaScript (cheaper than a call into the runtime), the rest goes through Buffer.
 */
import { Buffer } from 'node:buffer';

const SHORT = 16;

export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len <= SHORT) {
    let out = '';
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return toBuffer(buf).utf8Slice(start, end);
      out += String.fromCharCode(c);
    }
    return out;
  }
  return toBuffer(buf).utf8Slice(start, end);
}

/** A Buffer over the same memory (no copy). */
export function toBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

declare module 'node:buffer' {
  interface Buffer {
    utf8Slice(start: number, end: number): string;
    utf8Write(text: string, offset: number, length?: number): number;
  }
}
