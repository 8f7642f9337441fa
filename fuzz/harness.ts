/**
 * Runs one input through a streaming decoder the way a connection does, in random chunks, and
 * checks what must hold for any bytes at all:
 *  - the only exception is ProtocolDecodeError (a known code, naming a message; 08P01, or 22021
 *    for text that is not UTF-8, which only a decoder told to validate text reports, in
 *    PostgreSQL's words);
 *  - every message returned consumed bytes (no loop without progress);
 *  - between chunks the decoder holds only a proper prefix of one message whose declared length
 *    already passed its limit (so it never holds more than max(limit) + a chunk);
 *  - no buffer is allocated beyond the bytes received (instrumented Buffer allocation);
 *  - a seed that was not mutated decodes completely.
 */
import { Buffer } from 'node:buffer';
import { MESSAGES } from '../generated/index.js';
import { ProtocolDecodeError, StreamDecoder, type DecodeErrorCode } from '../runtime/wire/index.js';
import type { AnyMessage } from '../test/codecs/support/codecs.js';
import type { Seed } from './corpus.js';
import { below, type Rng } from './mutate.js';

export type FailureKind = 'exception' | 'no-progress' | 'over-buffered' | 'over-allocated' | 'valid-rejected' | 'bad-error';

export interface Failure {
  readonly kind: FailureKind;
  readonly detail: string;
}

export interface Outcome {
  readonly messages: number;
  /** The decode error's code, if the input ended in one. */
  readonly error?: DecodeErrorCode;
  readonly failure?: Failure;
  /** Message start offsets and the offsets of their length fields (for mutations). */
  readonly lengthOffsets: number[];
}

const ERROR_CODES: ReadonlySet<string> = new Set<DecodeErrorCode>([
  'truncated',
  'invalid-length',
  'too-long',
  'negative-length',
  'count-exceeds-remaining',
  'unknown-type',
  'unknown-code',
  'trailing-bytes',
  'invalid-value',
  'unterminated-string',
  'invalid-encoding',
  'unexpected-context',
]);

/** How PostgreSQL reports text that is not UTF-8: the one to four bytes of the bad sequence. */
const INVALID_ENCODING = /^invalid byte sequence for encoding "UTF8": 0x[0-9a-f]{2}( 0x[0-9a-f]{2}){0,3}$/;

export interface FeedOptions {
  /** Decode with `validateUtf8` (as a server does for a UTF8 client). */
  readonly validateUtf8?: boolean;
}

// ---- allocation tracking ------------------------------------------------------------------------

let largestAllocation = 0;
let tracking = false;

/** Wraps Buffer's allocators so the harness sees the largest buffer made while decoding. Idempotent. */
export function instrumentAllocations(): void {
  const b = Buffer as unknown as Record<string, unknown> & { __pgspecFuzz?: boolean };
  if (b.__pgspecFuzz) return;
  b.__pgspecFuzz = true;
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = Buffer[name].bind(Buffer) as (size: number, ...rest: unknown[]) => Buffer;
    b[name] = (size: number, ...rest: unknown[]) => {
      if (tracking && size > largestAllocation) largestAllocation = size;
      return original(size, ...rest);
    };
  }
  const concat = Buffer.concat.bind(Buffer);
  b.concat = (list: readonly Uint8Array[], total?: number) => {
    const out = concat(list, total);
    if (tracking && out.length > largestAllocation) largestAllocation = out.length;
    return out;
  };
}

/** Chunk sizes: mostly small (to split headers and fields), sometimes whole, sometimes a socket read. */
function chunkSize(rng: Rng, remaining: number): number {
  const r = rng();
  if (r < 0.4) return 1 + below(rng, 8);
  if (r < 0.6) return remaining;
  if (r < 0.8) return 1 + below(rng, 64);
  return 1 + below(rng, 4096);
}

/** Feeds `bytes` to a decoder set up for `seed` in random chunks; never throws. */
export function feed(seed: Seed, bytes: Buffer, rng: Rng, mutated: boolean, options: FeedOptions = {}): Outcome {
  const validateUtf8 = options.validateUtf8 === true;
  const decoder = new StreamDecoder(seed.table, { framing: seed.framing, context: { protocolVersion: seed.protocolVersion, validateUtf8 } });
  const replies = [...seed.replies];
  let version = seed.protocolVersion;
  let answered = 0;
  let pushed = 0;
  let consumed = 0;
  let messages = 0;
  const lengthOffsets: number[] = [];
  const fail = (kind: FailureKind, detail: string): Outcome => ({ messages, failure: { kind, detail }, lengthOffsets });
  largestAllocation = 0;
  tracking = true;
  try {
    while (pushed < bytes.length) {
      const n = Math.min(chunkSize(rng, bytes.length - pushed), bytes.length - pushed);
      decoder.push(bytes.subarray(pushed, pushed + n));
      pushed += n;
      for (;;) {
        decoder.expectReply = replies[0];
        const expected = seed.responses[answered];
        decoder.context = { protocolVersion: version, contextual: expected === undefined ? undefined : { p: expected }, validateUtf8 };
        const framing = decoder.framing;
        const m = decoder.next();
        if (m === undefined) break;
        const end = pushed - decoder.buffered;
        if (end <= consumed) return fail('no-progress', `${m.type} returned without consuming a byte at offset ${consumed}`);
        if (MESSAGES[m.type]?.framing !== 'reply') lengthOffsets.push(framing === 'startup' ? consumed : consumed + 1);
        consumed = end;
        messages++;
        after(m);
      }
      const held = check(seed, bytes.subarray(pushed - decoder.buffered, pushed), decoder);
      if (held !== undefined) return fail('over-buffered', held);
      if (largestAllocation > pushed) return fail('over-allocated', `allocated ${largestAllocation} bytes with ${pushed} received`);
    }
  } catch (err) {
    if (!(err instanceof ProtocolDecodeError)) {
      return fail('exception', `${(err as Error)?.name}: ${(err as Error)?.message}\n${(err as Error)?.stack ?? ''}`);
    }
    if (!wellFormedError(err, validateUtf8)) return fail('bad-error', `${err.code} ${err.sqlstate} ${err.messageName} ${err.message}`);
    if (!mutated) return fail('valid-rejected', err.message);
    if (largestAllocation > pushed) return fail('over-allocated', `allocated ${largestAllocation} bytes with ${pushed} received`);
    return { messages, error: err.code, lengthOffsets };
  } finally {
    tracking = false;
  }
  if (!mutated && decoder.buffered !== 0) return fail('valid-rejected', `${decoder.buffered} bytes left undecoded`);
  return { messages, lengthOffsets };

  function after(m: AnyMessage): void {
    if (MESSAGES[m.type]?.framing === 'reply') replies.shift();
    else replies.length = 0;
    if (m.type === 'StartupMessage') decoder.framing = 'typed';
    if (m.type === 'NegotiateProtocolVersion') version = m.newestVersion as number;
    if (MESSAGES[m.type]?.contextual) answered++;
  }
}

/** A known code and its SQLSTATE, naming its message; text errors only when text is validated. */
function wellFormedError(err: ProtocolDecodeError, validateUtf8: boolean): boolean {
  if (!ERROR_CODES.has(err.code) || err.messageName === '' || !err.message.startsWith(`${err.messageName}: `)) return false;
  if (err.code !== 'invalid-encoding') return err.sqlstate === '08P01';
  return validateUtf8 && err.sqlstate === '22021' && INVALID_ENCODING.test(err.message.slice(err.messageName.length + 2));
}

/**
 * What a decoder may hold after reading all it could: fewer bytes than a header, or a proper
 * prefix of a message whose type is known and whose length is within its limit.
 */
function check(seed: Seed, held: Uint8Array, decoder: StreamDecoder<AnyMessage>): string | undefined {
  if (held.length !== decoder.buffered) return `buffered ${decoder.buffered} but ${held.length} undecoded`;
  const table = seed.table;
  if (decoder.framing === 'startup') {
    if (held.length < 4) return undefined;
    const len = Buffer.from(held.buffer, held.byteOffset, held.byteLength).readInt32BE(0);
    if (len < 8 || len > table.startup!.limit || held.length >= len) return `holds ${held.length} bytes of a startup packet of length ${len}`;
    return undefined;
  }
  if (held.length === 0) return undefined;
  const entry = table.typed[held[0]!];
  if (entry === undefined) return `holds ${held.length} bytes behind unknown type ${held[0]}`;
  if (held.length < 5) return undefined;
  const len = Buffer.from(held.buffer, held.byteOffset, held.byteLength).readInt32BE(1);
  if (len < 4 || len > entry.limit || held.length >= len + 1) return `holds ${held.length} bytes of ${entry.name} of length ${len} (limit ${entry.limit})`;
  return undefined;
}
