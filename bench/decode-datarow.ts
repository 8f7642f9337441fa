/**
 * Decoding a result set: a backend stream of DataRow messages with five text columns, fed in
 * 64 KiB chunks, decoded by the generated stream decoder and by pg-protocol's Parser.
 *
 * Two figures for ours, because they answer different questions:
 * - "view": every value is available as text on demand (the ValueList the decoder returns),
 *   which is what a consumer that reads some columns, or hands rows on, pays;
 * - "texts()": every value is also turned into a string, which is what pg-protocol always does.
 */
import { Buffer } from 'node:buffer';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { DataRowMessage } from 'pg-protocol/dist/messages.js';
import { BACKEND_TABLE } from '../generated/tables.js';
import type { BackendMessage } from '../generated/messages.js';
import { StreamDecoder } from '../runtime/wire/index.js';
import { timeVariants, toFigures, type BenchOptions, type BenchResult, type Variant } from './harness.js';

export const name = 'decode DataRow';

const CHUNK = 64 * 1024;
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'café'];
const NOTES = ['ok', 'pending', 'shipped', 'returned', 'on hold', 'größer'];

/** The five column values of row i: an int, a short word, a timestamp, a decimal, a nullable note. */
export function rowValues(i: number): (string | null)[] {
  const second = i % 86400;
  const hh = String(Math.floor(second / 3600)).padStart(2, '0');
  const mm = String(Math.floor(second / 60) % 60).padStart(2, '0');
  const ss = String(second % 60).padStart(2, '0');
  const day = String((i % 28) + 1).padStart(2, '0');
  const micros = String((i * 7919) % 1000000).padStart(6, '0');
  return [
    String(i + 1),
    WORDS[i % WORDS.length]!,
    `2024-03-${day} ${hh}:${mm}:${ss}.${micros}+00`,
    ((i * 37) % 1000000 / 100).toFixed(2),
    i % 3 === 0 ? null : NOTES[i % NOTES.length]!,
  ];
}

/** The DataRow messages for rows 0..count-1, as one buffer (built by hand, not by the code under test). */
export function buildStream(count: number): Buffer {
  const rows: Buffer[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const values = rowValues(i);
    const encoded = values.map((v) => (v === null ? null : Buffer.from(v, 'utf8')));
    const bodyLength = 2 + encoded.reduce((n, b) => n + 4 + (b === null ? 0 : b.length), 0);
    const row = Buffer.allocUnsafe(5 + bodyLength);
    row[0] = 0x44; // 'D'
    row.writeInt32BE(4 + bodyLength, 1);
    row.writeUInt16BE(values.length, 5);
    let p = 7;
    for (const b of encoded) {
      row.writeInt32BE(b === null ? -1 : b.length, p);
      p += 4;
      if (b !== null) {
        b.copy(row, p);
        p += b.length;
      }
    }
    rows.push(row);
    total += row.length;
  }
  return Buffer.concat(rows, total);
}

/** Views of the stream, CHUNK bytes each (the last may be shorter). */
export function chunk(stream: Buffer, size = CHUNK): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < stream.length; p += size) out.push(stream.subarray(p, Math.min(p + size, stream.length)));
  return out;
}

/** Ours, values left as the ValueList view. */
function decodeView(chunks: readonly Buffer[]): number {
  const decoder = new StreamDecoder<BackendMessage>(BACKEND_TABLE);
  let rows = 0;
  let values = 0;
  for (const c of chunks) {
    decoder.push(c);
    for (let m = decoder.next(); m !== undefined; m = decoder.next()) {
      if (m.type === 'DataRow') {
        rows++;
        values += m.values.length;
      }
    }
  }
  if (values !== rows * 5) throw new Error('bad value count');
  return rows;
}

/** Ours, every value made a string. */
function decodeTexts(chunks: readonly Buffer[]): number {
  const decoder = new StreamDecoder<BackendMessage>(BACKEND_TABLE);
  let rows = 0;
  let values = 0;
  for (const c of chunks) {
    decoder.push(c);
    for (let m = decoder.next(); m !== undefined; m = decoder.next()) {
      if (m.type === 'DataRow') {
        rows++;
        values += m.values.texts().length;
      }
    }
  }
  if (values !== rows * 5) throw new Error('bad value count');
  return rows;
}

function decodePgProtocol(chunks: readonly Buffer[]): number {
  const parser = new Parser();
  let rows = 0;
  let values = 0;
  const onMessage = (m: { name: string }): void => {
    if (m.name === 'dataRow') {
      rows++;
      values += (m as DataRowMessage).fields.length;
    }
  };
  for (const c of chunks) parser.parse(c, onMessage);
  if (values !== rows * 5) throw new Error('bad value count');
  return rows;
}

/** Both decoders must read the same values before their speed means anything. */
function crossCheck(chunks: readonly Buffer[], sample: number): void {
  const ours: (string | null)[][] = [];
  const decoder = new StreamDecoder<BackendMessage>(BACKEND_TABLE);
  const theirs: (string | null)[][] = [];
  const parser = new Parser();
  for (const c of chunks) {
    decoder.push(c);
    for (let m = decoder.next(); m !== undefined; m = decoder.next()) {
      if (m.type === 'DataRow' && ours.length < sample) ours.push(m.values.texts());
    }
    parser.parse(c, (m) => {
      if (m.name === 'dataRow' && theirs.length < sample) theirs.push((m as DataRowMessage).fields as (string | null)[]);
    });
    if (ours.length >= sample && theirs.length >= sample) break;
  }
  for (let i = 0; i < sample; i++) {
    const expected = JSON.stringify(rowValues(i));
    if (JSON.stringify(ours[i]) !== expected || JSON.stringify(theirs[i]) !== expected) {
      throw new Error(`row ${i}: ours ${JSON.stringify(ours[i])}, pg-protocol ${JSON.stringify(theirs[i])}, expected ${expected}`);
    }
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 50_000 : 1_000_000;
  const stream = buildStream(count);
  const chunks = chunk(stream);
  crossCheck(chunks, 2000);
  const anchor = 'pg-protocol Parser';
  const variants: Variant[] = [
    { label: 'ours, values as view', once: () => decodeView(chunks) },
    { label: 'ours, + texts()', once: () => decodeTexts(chunks) },
    { label: anchor, once: () => decodePgProtocol(chunks) },
  ];
  const timings = timeVariants(variants, options.warmup ?? (options.quick ? 1 : 3), options.runs ?? (options.quick ? 3 : 7));
  for (const t of timings) {
    if (t.operations !== count) throw new Error(`${t.label} decoded ${t.operations} rows, expected ${count}`);
  }
  return {
    name,
    unit: 'msgs/s',
    anchor,
    figures: toFigures(timings, anchor),
    notes: [`${count.toLocaleString('en-US')} DataRows x 5 text columns, ${(stream.length / 1048576).toFixed(1)} MiB in 64 KiB chunks`],
  };
}
