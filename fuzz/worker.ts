/** One fuzzing worker: runs its share of the inputs and posts heartbeats and its report. */
import { parentPort, workerData } from 'node:worker_threads';
import { runDecoderFuzz, type FuzzOptions } from './decoder-fuzz.js';

interface Job {
  readonly options: Omit<FuzzOptions, 'onProgress' | 'onInput'>;
  /** Int32 slot where the index being decoded is kept, readable while this thread is stuck. */
  readonly current: SharedArrayBuffer;
}

const job = workerData as Job;
const current = new Int32Array(job.current);
const report = runDecoderFuzz({
  ...job.options,
  onInput: (i) => Atomics.store(current, 0, i),
  onProgress: (i) => parentPort!.postMessage({ progress: i }),
});
parentPort!.postMessage({ report });
