/**
 * UTF-8 text <-> bytes, tuned for the many short strings of a result set or a Bind. A call into
 * the runtime (Buffer's utf8Slice / utf8Write) costs a fixed ~70-140 ns on Node 20, so short ASCII
 * strings are built or written in JavaScript and everything else goes through Buffer. The
 * thresholds below were measured (bench/, and micro-benchmarks of each length), not guessed.
 */
import { Buffer } from 'node:buffer';

/** Up to this many bytes, ASCII text is decoded in JavaScript (one String.fromCharCode call). */
const SHORT_DECODE = 12;
/** Up to this many characters, ASCII text is encoded in JavaScript. */
const SHORT_ENCODE = 24;

const fromCharCode = String.fromCharCode;

export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len <= SHORT_DECODE) {
    let or = 0;
    for (let i = start; i < end; i++) or |= buf[i]!;
    if (or < 0x80) return shortAscii(buf, start, len);
  }
  return toBuffer(buf).utf8Slice(start, end);
}

/**
 * decodeUtf8 for text that must be well-formed UTF-8: undefined when it is not. Node's decoder
 * turns every ill-formed sequence into U+FFFD, so valid text costs one search of the decoded
 * string for U+FFFD (nothing for ASCII and Latin-1 text, whose strings cannot hold it); only text
 * that has one is scanned byte by byte, to tell a U+FFFD that was sent from one that was made.
 */
export function decodeValidUtf8(buf: Uint8Array, start: number, end: number): string | undefined {
  const len = end - start;
  if (len <= SHORT_DECODE) {
    let or = 0;
    for (let i = start; i < end; i++) or |= buf[i]!;
    if (or < 0x80) return shortAscii(buf, start, len);
  }
  const text = toBuffer(buf).utf8Slice(start, end);
  return text.indexOf('\uFFFD') < 0 || invalidUtf8At(buf, start, end) < 0 ? text : undefined;
}

/**
 * Where the first ill-formed sequence in buf[start, end) begins, or -1 if the bytes are
 * well-formed UTF-8 as Unicode defines it (its table 3-7), which is what PostgreSQL accepts: no
 * overlong forms, no surrogates (U+D800 to U+DFFF), nothing beyond U+10FFFF, no cut-off sequence.
 */
export function invalidUtf8At(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const lead = buf[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    // The sequence's length, and the range its second byte must fall in (narrower after the
    // leads whose next byte decides between a valid character and an overlong, surrogate or
    // out-of-range one).
    let n: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) n = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      n = 3;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      n = 4;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f;
    } else return i;
    if (end - i < n) return i;
    const second = buf[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k < n; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    i += n;
  }
  return -1;
}

/**
 * The bytes PostgreSQL shows when it reports the ill-formed sequence at `at` ("0xe2 0x28"): as
 * many as the lead byte announces (one for a byte that cannot lead a sequence), no more than
 * remain before `end`.
 */
export function invalidSequenceBytes(buf: Uint8Array, at: number, end: number): string {
  const lead = buf[at]!;
  const announced = (lead & 0xe0) === 0xc0 ? 2 : (lead & 0xf0) === 0xe0 ? 3 : (lead & 0xf8) === 0xf0 ? 4 : 1;
  const shown: string[] = [];
  for (let i = at; i < Math.min(at + announced, end); i++) shown.push(`0x${buf[i]!.toString(16).padStart(2, '0')}`);
  return shown.join(' ');
}

/**
 * `len` (at most SHORT_DECODE) ASCII bytes as a string, made in one call: building it a character
 * at a time makes a string per character, and a call into the runtime costs more than either.
 */
function shortAscii(b: Uint8Array, s: number, len: number): string {
  switch (len) {
    case 0: return '';
    case 1: return fromCharCode(b[s]!);
    case 2: return fromCharCode(b[s]!, b[s + 1]!);
    case 3: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    case 9: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!);
    case 10: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!);
    case 11: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!);
    default: return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!);
  }
}

/** The UTF-8 byte length of `text` (a lone surrogate counts 3 bytes, as Buffer encodes it). */
export function utf8Length(text: string): number {
  const n = text.length;
  if (n <= SHORT_ENCODE) {
    let i = 0;
    while (i < n && text.charCodeAt(i) < 0x80) i++;
    if (i === n) return n;
  }
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Writes `text` as UTF-8 at `pos` and returns the bytes written. The caller has made room for
 * utf8Length(text) bytes (or 3 per UTF-16 unit).
 */
export function writeUtf8(buf: Buffer, pos: number, text: string): number {
  const n = text.length;
  if (n <= SHORT_ENCODE) {
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) return buf.utf8Write(text, pos);
      buf[pos + i] = c;
    }
    return n;
  }
  return buf.utf8Write(text, pos);
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
