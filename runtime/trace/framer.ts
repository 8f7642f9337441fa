/**
 * Cuts a byte stream into whole messages without decoding them: the tracer forwards each message's
 * exact bytes (a message that does not decode is still passed on, and marked) and decodes a copy.
 */
import { Buffer } from 'node:buffer';

export type FrameKind = 'typed' | 'startup';

export class Framer {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  get buffered(): number {
    return this.length;
  }

  /** The next whole message (typed: type byte + Int32 length; startup: Int32 length), or undefined. */
  next(kind: FrameKind): Buffer | undefined {
    const header = kind === 'typed' ? 5 : 4;
    if (this.length < header) return undefined;
    const head = this.peek(header);
    const declared = head.readInt32BE(header - 4);
    // A nonsense length cannot be framed: hand on everything as one undecodable piece.
    const total = declared < 4 ? this.length : declared + header - 4;
    if (this.length < total) return undefined;
    return this.take(total);
  }

  /** Everything buffered, as one piece. */
  drain(): Buffer {
    return this.take(this.length);
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length === n) {
      this.chunks.shift();
      this.length -= n;
      return first;
    }
    if (first !== undefined && first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.length -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    this.length -= n;
    return out;
  }
}
