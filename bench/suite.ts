/** The benchmarks `npm run bench` runs, in order. Add a module exporting `name` and `run`. */
import type { Benchmark } from './harness.js';
import * as decodeDataRow from './decode-datarow.js';
import * as encodeExtended from './encode-extended.js';
import * as executorReport from './executor-report.js';
import * as pgbenchProxy from './pgbench-proxy.js';
import * as pgbenchRuntime from './pgbench-runtime.js';

export const BENCHMARKS: readonly Benchmark[] = [decodeDataRow, encodeExtended, pgbenchProxy, pgbenchRuntime, executorReport];
