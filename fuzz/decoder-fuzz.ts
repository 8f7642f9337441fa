/**
 * The decoder fuzz loop: input `i` of run `seed` is rebuilt from those two numbers alone, so a
 * failure is reproduced by `npm run fuzz -- --seed S --only I`. One input in ten is a seed left
 * whole (it must decode completely, in any chunking); the rest are mutated. Half the inputs are
 * decoded with `validateUtf8`, as a server decodes a UTF8 client: every seed is UTF-8, so it must
 * still decode whole, and a mutation inside a string may now be 22021.
 */
import { Buffer } from 'node:buffer';
import { captureSeeds, messageSeeds, type Seed } from './corpus.js';
import { feed, instrumentAllocations, type Failure } from './harness.js';
import { below, mutate, prng } from './mutate.js';

export interface FuzzOptions {
  readonly seed: number;
  /** First input index (a worker's share starts here) and how many to run. */
  readonly from?: number;
  readonly iterations: number;
  /** Stop early after this many milliseconds (the run reports how many it did). */
  readonly timeLimitMs?: number;
  /** Encodings generated per message and direction, renewed every `renewEvery` inputs. */
  readonly perMessage?: number;
  readonly renewEvery?: number;
  /** Called every 1000 inputs with the index reached (the watchdog's heartbeat). */
  readonly onProgress?: (index: number) => void;
  /** Called before each input (a worker records it so a hang can be named). */
  readonly onInput?: (index: number) => void;
}

export interface FoundFailure extends Failure {
  readonly seed: number;
  readonly index: number;
  readonly source: string;
  readonly hex: string;
}

export interface FuzzReport {
  readonly inputs: number;
  readonly ms: number;
  readonly messages: number;
  /** How many inputs ended in each decode error code ("ok" for none). */
  readonly outcomes: Record<string, number>;
  readonly failures: FoundFailure[];
}

interface Prepared {
  readonly seed: Seed;
  readonly lengthOffsets: readonly number[];
}

function prepare(seeds: readonly Seed[]): Prepared[] {
  return seeds.map((seed) => {
    const o = feed(seed, seed.bytes, () => 0.5, false);
    if (o.failure) throw new Error(`seed ${seed.name} does not decode: ${o.failure.kind} ${o.failure.detail}`);
    const strict = feed(seed, seed.bytes, () => 0.5, false, { validateUtf8: true });
    if (strict.failure) throw new Error(`seed ${seed.name} does not decode as UTF-8: ${strict.failure.kind} ${strict.failure.detail}`);
    return { seed, lengthOffsets: o.lengthOffsets };
  });
}

let captures: Prepared[] | undefined;

/** The input `index` of run `seed`: which seed, whether mutated and text validated, its bytes, and the rng for chunking. */
export function inputAt(
  pool: readonly Prepared[],
  seed: number,
  index: number,
): { prepared: Prepared; bytes: Buffer; mutated: boolean; validateUtf8: boolean; rng: () => number } {
  const rng = prng(Math.imul(seed, 0x9e3779b1) ^ index);
  const prepared = pool[below(rng, pool.length)]!;
  const mutated = rng() >= 0.1;
  const validateUtf8 = rng() < 0.5;
  const donor = pool[below(rng, pool.length)]!.seed.bytes;
  const bytes = mutated ? mutate(prepared.seed.bytes, { lengthOffsets: prepared.lengthOffsets, donor }, rng) : prepared.seed.bytes;
  return { prepared, bytes, mutated, validateUtf8, rng };
}

/** The pool in force at input `index`: the captures plus the message encodings of its generation. */
export function poolAt(seed: number, index: number, perMessage = 8, renewEvery = 50_000): Prepared[] {
  captures ??= prepare(captureSeeds());
  const generation = Math.floor(index / renewEvery);
  return [...captures, ...prepare(messageSeeds(perMessage, (seed + generation * 7919) | 0))];
}

export function runDecoderFuzz(options: FuzzOptions): FuzzReport {
  instrumentAllocations();
  const from = options.from ?? 0;
  const perMessage = options.perMessage ?? 8;
  const renewEvery = options.renewEvery ?? 50_000;
  const deadline = options.timeLimitMs === undefined ? Infinity : Date.now() + options.timeLimitMs;
  const outcomes: Record<string, number> = {};
  const failures: FoundFailure[] = [];
  const start = Date.now();
  let messages = 0;
  let pool: Prepared[] | undefined;
  let generation = -1;
  let done = 0;
  for (let index = from; index < from + options.iterations; index++) {
    if (Math.floor(index / renewEvery) !== generation) {
      generation = Math.floor(index / renewEvery);
      pool = poolAt(options.seed, index, perMessage, renewEvery);
    }
    options.onInput?.(index);
    const { prepared, bytes, mutated, validateUtf8, rng } = inputAt(pool!, options.seed, index);
    const outcome = feed(prepared.seed, bytes, rng, mutated, { validateUtf8 });
    messages += outcome.messages;
    const key = outcome.failure ? `FAIL ${outcome.failure.kind}` : (outcome.error ?? 'ok');
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (outcome.failure && failures.length < 20) {
      failures.push({ ...outcome.failure, seed: options.seed, index, source: prepared.seed.name, hex: bytes.toString('hex') });
    }
    done++;
    if (done % 1000 === 0) {
      options.onProgress?.(index);
      if (Date.now() > deadline) break;
    }
  }
  return { inputs: done, ms: Date.now() - start, messages, outcomes, failures };
}
