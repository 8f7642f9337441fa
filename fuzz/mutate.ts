/**
 * Byte-level mutations of a seed stream, driven by a small seeded PRNG so that any input can be
 * rebuilt from (seed, index): flipped bits, overwritten bytes, truncations, deletions, duplicated
 * ranges, splices from other seeds, and length or count fields set to the values that break
 * careless decoders (0, 3, -2, 2^31-1, just past a limit).
 */
import { Buffer } from 'node:buffer';

/** mulberry32: small, fast, good enough to pick mutations; the same seed gives the same stream. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;
export const below = (rng: Rng, n: number): number => Math.floor(rng() * n);
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[below(rng, xs.length)]!;

/** Values written over a message's length field. */
export const LENGTH_VALUES = [0, 1, 3, 4, 5, 7, 8, -1, -2, -0x80000000, 0x7fffffff, 10000, 10001, 30000, 30001, 1073741822, 1073741823, 1073741824] as const;
/** Values written over an arbitrary Int32 (a value length, a count, a code). */
const INT32_VALUES = [0, 1, -1, -2, 3, 0x7fffffff, -0x80000000, 0xffff, 0x10000, 1073741823] as const;
/** Values written over an arbitrary Int16 (a count, a format). */
const INT16_VALUES = [0, 1, 0xffff, 0x8000, 0x7fff, 2] as const;

export interface MutationContext {
  /** Offsets of the length fields of the seed's messages (known from decoding it unmutated). */
  readonly lengthOffsets: readonly number[];
  /** Another seed's bytes, for splices. */
  readonly donor: Buffer;
}

/** Applies 1 to 4 random mutations; returns new bytes (the seed is not written to). */
export function mutate(seed: Buffer, cx: MutationContext, rng: Rng): Buffer {
  let b: Buffer = Buffer.from(seed);
  const n = 1 + below(rng, 4);
  for (let k = 0; k < n; k++) b = mutateOnce(b, cx, rng);
  return b;
}

function mutateOnce(b: Buffer, cx: MutationContext, rng: Rng): Buffer {
  const at = below(rng, b.length + 1);
  switch (below(rng, 11)) {
    case 0: // flip a bit
      if (at < b.length) b[at]! ^= 1 << below(rng, 8);
      return b;
    case 1: // overwrite a byte
      if (at < b.length) b[at] = below(rng, 256);
      return b;
    case 2: // truncate
      return b.subarray(0, at);
    case 3: {
      // delete a range
      const len = 1 + below(rng, 16);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
    }
    case 4: {
      // duplicate a range (a repeated message, a doubled field)
      const len = 1 + below(rng, 64);
      return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
    }
    case 5: {
      // splice a piece of another stream in, or replace the tail with it
      const from = below(rng, cx.donor.length + 1);
      const piece = cx.donor.subarray(from, from + 1 + below(rng, 256));
      return rng() < 0.5 ? Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]) : Buffer.concat([b.subarray(0, at), piece]);
    }
    case 6:
    case 7: {
      // a length field set to a hostile value
      if (cx.lengthOffsets.length === 0) return b;
      const off = pick(rng, cx.lengthOffsets);
      if (off + 4 <= b.length) b.writeInt32BE(pick(rng, LENGTH_VALUES), off);
      return b;
    }
    case 8:
      if (at + 4 <= b.length) b.writeInt32BE(pick(rng, INT32_VALUES) | 0, at);
      return b;
    case 9:
      if (at + 2 <= b.length) b.writeUInt16BE(pick(rng, INT16_VALUES), at);
      return b;
    default: {
      // random bytes inserted
      const ins = Buffer.alloc(1 + below(rng, 8));
      for (let i = 0; i < ins.length; i++) ins[i] = below(rng, 256);
      return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    }
  }
}
