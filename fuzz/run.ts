/**
 * `npm run fuzz [-- --iterations N] [-- --seed S] [-- --workers W] [-- --seconds T] [-- --only I]`
 *
 * Structure-aware and mutation fuzzing of both directions' streaming decoders (see
 * decoder-fuzz.ts). Inputs are split across worker threads; a watchdog ends a worker that makes no
 * progress for 15 s and reports the input it was stuck on. Exits 1 on any failure, printing the
 * seed, index and bytes of each so it can be replayed and turned into a regression test.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { runDecoderFuzz, type FoundFailure, type FuzzReport } from './decoder-fuzz.js';

const HANG_MS = 15_000;
/** The worker is TypeScript too: it registers tsx's loader, then imports the worker module. */
const WORKER_BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); });`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const iterations = Number(arg('iterations') ?? 20_000);
const seed = Number(arg('seed') ?? Date.now() % 0x7fffffff) | 0;
const seconds = arg('seconds') === undefined ? undefined : Number(arg('seconds'));
const only = arg('only');
const workers = only !== undefined ? 1 : Math.max(1, Math.min(Number(arg('workers') ?? availableParallelism()), Math.ceil(iterations / 5000)));

interface WorkerResult {
  report?: FuzzReport;
  hang?: FoundFailure;
}

function runWorker(from: number, count: number): Promise<WorkerResult> {
  const current = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_BOOTSTRAP, {
    eval: true,
    workerData: { options: { seed, from, iterations: count, timeLimitMs: seconds === undefined ? undefined : seconds * 1000 }, current },
  });
  return new Promise((resolve, reject) => {
    let last = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - last < HANG_MS) return;
      clearInterval(watchdog);
      const index = Atomics.load(new Int32Array(current), 0);
      void worker.terminate();
      resolve({ hang: { kind: 'exception', detail: `hang: no progress for ${HANG_MS} ms`, seed, index, source: '?', hex: '' } });
    }, 1000);
    worker.on('message', (m: { progress?: number; report?: FuzzReport }) => {
      last = Date.now();
      if (m.report) {
        clearInterval(watchdog);
        resolve({ report: m.report });
      }
    });
    worker.on('error', (err) => {
      clearInterval(watchdog);
      reject(err);
    });
  });
}

async function main(): Promise<void> {
  if (only !== undefined) {
    const report = runDecoderFuzz({ seed, from: Number(only), iterations: 1 });
    print([report], []);
    return;
  }
  process.stdout.write(`decoder fuzz: ${iterations.toLocaleString('en-US')} inputs, seed ${seed}, ${workers} worker(s)${seconds ? `, at most ${seconds} s` : ''}\n`);
  const share = Math.ceil(iterations / workers);
  const start = Date.now();
  const results = await Promise.all(Array.from({ length: workers }, (_, w) => runWorker(w * share, Math.min(share, iterations - w * share))));
  const reports = results.flatMap((r) => (r.report ? [r.report] : []));
  const hangs = results.flatMap((r) => (r.hang ? [r.hang] : []));
  print(reports, hangs, Date.now() - start);
}

function print(reports: FuzzReport[], hangs: FoundFailure[], wallMs?: number): void {
  const inputs = reports.reduce((n, r) => n + r.inputs, 0);
  const messages = reports.reduce((n, r) => n + r.messages, 0);
  const ms = wallMs ?? Math.max(...reports.map((r) => r.ms));
  const outcomes: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const failures = [...reports.flatMap((r) => r.failures), ...hangs];
  const rate = Math.round(inputs / (ms / 1000));
  process.stdout.write(`inputs: ${inputs.toLocaleString('en-US')} in ${(ms / 1000).toFixed(1)} s (${rate.toLocaleString('en-US')} inputs/s); messages decoded: ${messages.toLocaleString('en-US')}\n`);
  process.stdout.write('outcomes:\n');
  for (const [k, v] of Object.entries(outcomes).sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${k.padEnd(26)} ${v.toLocaleString('en-US')}\n`);
  if (failures.length === 0) {
    process.stdout.write('failures: none\n');
    return;
  }
  process.stdout.write(`failures: ${failures.length}\n`);
  for (const f of failures) {
    process.stdout.write(`  [${f.kind}] seed ${f.seed} index ${f.index} from ${f.source}: ${f.detail.split('\n')[0]}\n    bytes ${f.hex.slice(0, 400)}${f.hex.length > 400 ? '…' : ''}\n    replay: npm run fuzz -- --seed ${f.seed} --only ${f.index}\n`);
  }
  process.exitCode = 1;
}

await main();
