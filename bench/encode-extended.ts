/**
 * Encoding an extended-query round trip as a client sends it: Parse, Bind (three text
 * parameters), Execute, Sync, one socket write per batch. Ours writes the four messages into one
 * reused Writer and take()s the batch; pg-protocol serializes each message into its own Buffer
 * and the batch is Buffer.concat'ed, as a client writing them at once would.
 */
import type { Buffer } from 'node:buffer';
import { Buffer as NodeBuffer } from 'node:buffer';
import { serialize } from 'pg-protocol/dist/serializer.js';
import { encodeBind, encodeExecute, encodeParse, encodeSync } from '../generated/encoders.js';
import { ValueList, Writer } from '../runtime/wire/index.js';
import { timeVariants, toFigures, type BenchOptions, type BenchResult, type Variant } from './harness.js';

export const name = 'encode Parse/Bind/Execute/Sync';

const QUERY = 'SELECT id, name, created_at FROM accounts WHERE id = $1 AND status = $2 AND region = $3';
const STATUSES = ['active', 'suspended', 'closed', 'pending'];
const REGIONS = ['eu-west-1', 'us-east-2', 'ap-south-1', 'zürich'];
const TEXT_FORMATS = [0, 0, 0];
const RESULT_FORMATS = [0];
const NO_TYPES: number[] = [];

/** The parameters of batch i: distinct tuples, made before timing so both sides get the same strings. */
function params(count: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < count; i++) out.push([String(100000 + i * 13), STATUSES[i % STATUSES.length]!, REGIONS[i % REGIONS.length]!]);
  return out;
}

/** One batch as ours writes it. */
function oursBatch(w: Writer, values: readonly string[]): Buffer {
  encodeParse(w, { type: 'Parse', statement: '', query: QUERY, parameterTypes: NO_TYPES });
  encodeBind(w, { type: 'Bind', portal: '', statement: '', parameterFormats: TEXT_FORMATS, parameters: ValueList.from(values), resultFormats: RESULT_FORMATS });
  encodeExecute(w, { type: 'Execute', portal: '', maxRows: 0 });
  encodeSync(w, { type: 'Sync' });
  return w.take();
}

/** One batch as a node-postgres client writes it. */
function pgBatch(values: readonly string[]): Buffer {
  return NodeBuffer.concat([
    serialize.parse({ text: QUERY, name: '', types: NO_TYPES }),
    serialize.bind({ portal: '', statement: '', values: values as string[] }),
    serialize.execute({ portal: '', rows: 0 }),
    serialize.sync(),
  ]);
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const batches = options.quick ? 20_000 : 100_000;
  const tuples = params(batches);
  for (let i = 0; i < 8; i++) {
    const a = oursBatch(new Writer(), tuples[i]!);
    const b = pgBatch(tuples[i]!);
    if (!a.equals(b)) throw new Error(`batch ${i} differs:\n ours ${a.toString('hex')}\n pg   ${b.toString('hex')}`);
  }
  const writer = new Writer();
  let sink = 0;
  const anchor = 'pg-protocol serialize';
  const variants: Variant[] = [
    {
      label: 'ours, one Writer',
      once: () => {
        for (let i = 0; i < batches; i++) sink += oursBatch(writer, tuples[i]!).length;
        return batches * 4;
      },
    },
    {
      label: anchor,
      once: () => {
        for (let i = 0; i < batches; i++) sink += pgBatch(tuples[i]!).length;
        return batches * 4;
      },
    },
  ];
  const timings = timeVariants(variants, options.warmup ?? (options.quick ? 1 : 3), options.runs ?? (options.quick ? 3 : 7));
  if (sink <= 0) throw new Error('nothing encoded');
  return {
    name,
    unit: 'msgs/s',
    anchor,
    figures: toFigures(timings, anchor),
    notes: [`${batches.toLocaleString('en-US')} batches of 4 messages, Bind with 3 text parameters; byte-identical output checked`],
  };
}
