/**
 * How bytes arrive must not matter: each recorded stream, and random runs of encoded messages,
 * decode to the same messages whether pushed whole, as recorded, byte by byte, or in random
 * (seeded) pieces. Comparison happens after the whole stream is decoded, so it also checks that
 * earlier messages (zero-copy views) were not overwritten by later pushes.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamDecoder } from '../../runtime/wire/index.js';
import { messageArb } from './support/arbitraries.js';
import { BACKEND_TABLE, encode, FRONTEND_TABLE, hex, MODEL, plain, type AnyMessage } from './support/codecs.js';
import { chunksOf, decodeConnection, loadCaptures, type DecodedConnection } from './support/conversation.js';

/** A small seeded generator (mulberry32), so a failing split can be reproduced from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function splitAt(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < stream.length))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, stream.length]) {
    // Copies, so a decoder that kept a reference to a pushed chunk cannot see it change.
    out.push(Buffer.from(stream.subarray(prev, p)));
    prev = p;
  }
  return stream.length === 0 ? [] : out;
}

function randomSplit(stream: Buffer, seed: number): Buffer[] {
  const rnd = prng(seed);
  const cuts: number[] = [];
  // Mostly small pieces, some large ones, so both header splits and multi-message chunks happen.
  for (let p = 0; p < stream.length; ) {
    p += rnd() < 0.7 ? 1 + Math.floor(rnd() * 8) : 1 + Math.floor(rnd() * 400);
    cuts.push(p);
  }
  return splitAt(stream, cuts);
}

function bytewise(stream: Buffer): Buffer[] {
  return Array.from({ length: stream.length }, (_, i) => Buffer.from(stream.subarray(i, i + 1)));
}

function summary(d: DecodedConnection): unknown {
  return {
    frontend: d.frontend.map((x) => [plain(x.message), hex(x.bytes)]),
    backend: d.backend.map((x) => [plain(x.message), hex(x.bytes)]),
    leftover: d.leftover,
  };
}

describe('recorded streams decode the same however they are split', () => {
  const connections = loadCaptures().flatMap((c) => c.connections.map((conn, i) => [`${c.name} #${i}`, conn] as const));
  it.each(connections)('%s', (_, conn) => {
    const { F, B } = chunksOf(conn);
    const f = Buffer.concat(F);
    const b = Buffer.concat(B);
    const fCopy = Buffer.from(f);
    const bCopy = Buffer.from(b);
    const whole = summary(decodeConnection([f], [b]));
    expect(summary(decodeConnection(F, B))).toEqual(whole);
    expect(summary(decodeConnection(bytewise(f), bytewise(b)))).toEqual(whole);
    for (const seed of [1, 2, 3, 0xc0ffee]) {
      expect(summary(decodeConnection(randomSplit(f, seed), randomSplit(b, seed ^ 0x5555))), `seed ${seed}`).toEqual(whole);
    }
    // Pushed buffers are never written to.
    expect(f.equals(fCopy) && b.equals(bCopy)).toBe(true);
  });
});

describe('property: random message runs decode the same in any split', () => {
  const typedOnly = (dir: 'frontend' | 'backend') =>
    MODEL.messages.filter((m) => m.extension === undefined && m.framing === 'typed' && !m.contextual && m.directions.includes(dir));

  for (const dir of ['frontend', 'backend'] as const) {
    it(`${dir} messages`, () => {
      const table = dir === 'frontend' ? FRONTEND_TABLE : BACKEND_TABLE;
      const arb = fc.array(fc.oneof(...typedOnly(dir).map(messageArb)), { minLength: 1, maxLength: 12 });
      fc.assert(
        fc.property(arb, fc.array(fc.nat(), { maxLength: 40 }), (messages: AnyMessage[], cuts) => {
          const stream = Buffer.concat(messages.map(encode));
          const decodeAll = (chunks: Buffer[]): unknown[] => {
            const d = new StreamDecoder(table, { context: { protocolVersion: 196610 } });
            const out: AnyMessage[] = [];
            for (const c of chunks) {
              d.push(c);
              for (let m = d.next(); m !== undefined; m = d.next()) out.push(m);
            }
            expect(d.buffered).toBe(0);
            return out.map(plain);
          };
          const expected = messages.map(plain);
          expect(decodeAll([stream])).toEqual(expected);
          expect(decodeAll(splitAt(stream, cuts.map((c) => c % (stream.length + 1))))).toEqual(expected);
        }),
        { seed: 20240601, numRuns: 200 },
      );
    });
  }

  it('byte by byte, a message is returned only when its last byte arrives', () => {
    const stream = Buffer.concat([encode({ type: 'Query', query: 'SELECT 1' }), encode({ type: 'Sync' })]);
    const d = new StreamDecoder(FRONTEND_TABLE);
    const at: number[] = [];
    for (let i = 0; i < stream.length; i++) {
      d.push(stream.subarray(i, i + 1));
      for (let m = d.next(); m !== undefined; m = d.next()) at.push(i + 1);
    }
    expect(at).toEqual([14, 19]);
  });
});
