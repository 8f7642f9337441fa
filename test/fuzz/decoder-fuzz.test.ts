/**
 * A short-budget run of the decoder fuzzer (`npm run fuzz` runs the long one), plus checks that
 * the harness itself notices what it is there to catch.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { runDecoderFuzz } from '../../fuzz/decoder-fuzz.js';
import { feed, instrumentAllocations } from '../../fuzz/harness.js';
import type { Seed } from '../../fuzz/corpus.js';
import { ProtocolDecodeError, type DirectionTable } from '../../runtime/wire/index.js';
import type { AnyMessage } from '../codecs/support/codecs.js';

describe('decoder fuzzing (short budget)', () => {
  it('20,000 structure-aware and mutated inputs: only ProtocolDecodeError, bounded buffering, no over-allocation', () => {
    const report = runDecoderFuzz({ seed: 20240607, iterations: 20_000, timeLimitMs: 40_000 });
    expect(report.failures).toEqual([]);
    expect(report.inputs).toBeGreaterThan(5_000);
    // The run exercised both valid decoding and a spread of decode errors.
    expect(report.outcomes.ok).toBeGreaterThan(1_000);
    for (const code of ['unknown-type', 'invalid-length', 'too-long', 'truncated', 'unterminated-string', 'invalid-encoding']) {
      expect(report.outcomes[code], code).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe('the harness catches what it should', () => {
  instrumentAllocations();
  const seedWith = (table: DirectionTable<AnyMessage>, bytes: Buffer): Seed => ({ name: 'test', table, framing: 'typed', protocolVersion: 196608, responses: [], replies: [], bytes });
  const tableOf = (decode: DirectionTable<AnyMessage>['typed'][number]): DirectionTable<AnyMessage> => {
    const typed: DirectionTable<AnyMessage>['typed'][number][] = [];
    typed['X'.charCodeAt(0)] = decode;
    return { direction: 'frontend', typed, minimumLength: 4 };
  };
  const message = Buffer.from([0x58, 0, 0, 0, 6, 1, 2]);

  it('an exception other than ProtocolDecodeError', () => {
    const table = tableOf({ name: 'X', limit: 100, decode: () => { throw new TypeError('boom'); } });
    expect(feed(seedWith(table, message), message, () => 0.5, true).failure?.kind).toBe('exception');
  });

  it('a decode error on bytes that were not mutated', () => {
    const table = tableOf({ name: 'X', limit: 100, decode: () => { throw new ProtocolDecodeError('invalid-value', 'X', 'no'); } });
    expect(feed(seedWith(table, message), message, () => 0.5, false).failure?.kind).toBe('valid-rejected');
  });

  it('an allocation beyond the bytes received', () => {
    const table = tableOf({ name: 'X', limit: 100, decode: (r) => { Buffer.alloc(1 << 20); r.rest(); return { type: 'X' }; } });
    expect(feed(seedWith(table, message), message, () => 0.5, true).failure?.kind).toBe('over-allocated');
  });

  it('a ProtocolDecodeError that does not name its message', () => {
    const table = tableOf({ name: 'X', limit: 100, decode: () => { throw new ProtocolDecodeError('invalid-value', '', 'unnamed'); } });
    expect(feed(seedWith(table, message), message, () => 0.5, true).failure?.kind).toBe('bad-error');
  });

  it('a text encoding error from a decoder not told to validate text, or not in PostgreSQL words', () => {
    const reported = 'invalid byte sequence for encoding "UTF8": 0xe2 0x28';
    const table = (text: string) => tableOf({ name: 'X', limit: 100, decode: () => { throw new ProtocolDecodeError('invalid-encoding', 'X', text); } });
    expect(feed(seedWith(table(reported), message), message, () => 0.5, true, { validateUtf8: true }).failure).toBeUndefined();
    expect(feed(seedWith(table(reported), message), message, () => 0.5, true).failure?.kind).toBe('bad-error');
    expect(feed(seedWith(table('bad text'), message), message, () => 0.5, true, { validateUtf8: true }).failure?.kind).toBe('bad-error');
  });
});
