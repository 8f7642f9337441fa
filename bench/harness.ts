/**
 * What every benchmark shares: its options, the shape of its result, and a timer that runs the
 * variants of one benchmark in alternation (so drift in machine load hits all of them alike) and
 * keeps the median of the timed runs.
 */
import { performance } from 'node:perf_hooks';

export interface BenchOptions {
  /** Smaller inputs and fewer runs, for smoke runs and tests. */
  quick: boolean;
  /** Untimed runs of every variant before timing; defaults per benchmark. */
  warmup?: number;
  /** Timed runs of every variant; the median is reported. */
  runs?: number;
}

/** One measured variant of a benchmark. */
export interface BenchFigure {
  label: string;
  /** Operations per second (the unit says which operation). */
  perSecond: number;
  /** How many times faster than the anchor; the anchor's own figure has 1. */
  ratio: number;
  /** True for the figure the others are compared against. */
  anchor?: boolean;
}

export interface BenchResult {
  name: string;
  /** What perSecond counts, e.g. "msgs/s". */
  unit: string;
  /** The label of the anchor figure (another library doing the same work). */
  anchor: string;
  figures: BenchFigure[];
  /** Things a reader needs to interpret the figures: sizes, what each variant does. */
  notes: string[];
}

export interface Benchmark {
  name: string;
  run(options: BenchOptions): Promise<BenchResult>;
}

/** A variant: does the work once and returns how many operations it did (and a checksum-ish value). */
export interface Variant {
  label: string;
  /** Returns the number of operations done; the caller checks every run agrees. */
  once(): number;
}

export interface Timing {
  label: string;
  operations: number;
  medianMs: number;
  perSecond: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs every variant `warmup` times untimed, then `runs` times timed, interleaved. */
export function timeVariants(variants: readonly Variant[], warmup: number, runs: number): Timing[] {
  const operations = new Array<number>(variants.length).fill(-1);
  const check = (i: number, n: number): void => {
    if (operations[i] === -1) operations[i] = n;
    else if (operations[i] !== n) throw new Error(`${variants[i]!.label}: did ${n} operations, earlier ${operations[i]}`);
  };
  for (let w = 0; w < warmup; w++) {
    variants.forEach((v, i) => check(i, v.once()));
  }
  const times: number[][] = variants.map(() => []);
  for (let r = 0; r < runs; r++) {
    variants.forEach((v, i) => {
      const t0 = performance.now();
      const n = v.once();
      times[i]!.push(performance.now() - t0);
      check(i, n);
    });
  }
  return variants.map((v, i) => {
    const ms = median(times[i]!);
    return { label: v.label, operations: operations[i]!, medianMs: ms, perSecond: (operations[i]! * 1000) / ms };
  });
}

/** Figures relative to the timing labelled `anchor`. */
export function toFigures(timings: readonly Timing[], anchor: string): BenchFigure[] {
  const base = timings.find((t) => t.label === anchor);
  if (base === undefined) throw new Error(`no timing labelled ${anchor}`);
  return timings.map((t) => ({
    label: t.label,
    perSecond: t.perSecond,
    ratio: t.perSecond / base.perSecond,
    ...(t.label === anchor ? { anchor: true } : {}),
  }));
}
