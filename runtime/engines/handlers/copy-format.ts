/**
 * The COPY data formats, row by row: text (tab-separated, \N for NULL, backslash escapes, one
 * line per row) and binary (the PGCOPY signature, then per row a field count and length-prefixed
 * values, then -1). Values go through the same codecs as query results.
 */
import { Buffer } from 'node:buffer';
import { HandlerError } from './api.js';
import type { ResolvedColumn } from './columns.js';

const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const BINARY_HEADER = Buffer.concat([BINARY_SIGNATURE, Buffer.alloc(8)]);
const BINARY_TRAILER = Buffer.from([0xff, 0xff]);

const TEXT_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f', '\v': '\\v' };
const TEXT_UNESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

export type CopyFormat = 'text' | 'binary';

/** The bytes before the first row (binary only). */
export function copyHeader(format: CopyFormat): Uint8Array | undefined {
  return format === 'binary' ? BINARY_HEADER : undefined;
}

/** The bytes after the last row (binary only). */
export function copyTrailer(format: CopyFormat): Uint8Array | undefined {
  return format === 'binary' ? BINARY_TRAILER : undefined;
}

/** One row in the COPY format. */
export function encodeCopyRow(format: CopyFormat, columns: readonly ResolvedColumn[], values: readonly unknown[]): Uint8Array {
  if (format === 'text') {
    const fields = columns.map((c, i) => {
      const v = values[i];
      if (v === null || v === undefined) return '\\N';
      return c.encodeText(v).replace(/[\\\n\r\t\b\f\v]/g, (ch) => TEXT_ESCAPES[ch]!);
    });
    return Buffer.from(`${fields.join('\t')}\n`, 'utf8');
  }
  const parts: Buffer[] = [];
  const count = Buffer.allocUnsafe(2);
  count.writeInt16BE(columns.length);
  parts.push(count);
  columns.forEach((c, i) => {
    const v = values[i];
    const len = Buffer.allocUnsafe(4);
    if (v === null || v === undefined) {
      len.writeInt32BE(-1);
      parts.push(len);
    } else {
      const bytes = Buffer.from(c.encodeBinary(v));
      len.writeInt32BE(bytes.length);
      parts.push(len, bytes);
    }
  });
  return Buffer.concat(parts);
}

function badCopy(message: string): HandlerError {
  return new HandlerError('22P04', message);
}

/** Reads COPY data as it arrives in CopyData messages of any size; rows come out decoded. */
export class CopyRowReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private finished = false;
  private line = 0;

  constructor(
    private readonly format: CopyFormat,
    private readonly columns: readonly ResolvedColumn[],
  ) {}

  push(data: Uint8Array): unknown[][] {
    this.pending = this.pending.length === 0 ? Buffer.from(data) : Buffer.concat([this.pending, data]);
    return this.format === 'text' ? this.textRows() : this.binaryRows();
  }

  /** At CopyDone: fails if a row was left incomplete. */
  end(): unknown[][] {
    if (this.format === 'text' && this.pending.length > 0 && !this.finished) {
      // A last line without its newline still counts, as PostgreSQL allows.
      this.pending = Buffer.concat([this.pending, Buffer.from('\n')]);
      const rows = this.textRows();
      return rows;
    }
    if (this.format === 'binary' && !this.finished && (this.pending.length > 0 || !this.headerRead)) throw badCopy('unexpected EOF in COPY data');
    return [];
  }

  private textRows(): unknown[][] {
    const rows: unknown[][] = [];
    for (;;) {
      if (this.finished) {
        this.pending = Buffer.alloc(0);
        return rows;
      }
      const nl = this.pending.indexOf(0x0a);
      if (nl < 0) return rows;
      let line = this.pending.subarray(0, nl).toString('utf8');
      this.pending = this.pending.subarray(nl + 1);
      this.line++;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '\\.') {
        this.finished = true;
        continue;
      }
      const fields = line.split('\t');
      if (fields.length !== this.columns.length) {
        throw badCopy(`${fields.length < this.columns.length ? 'missing' : 'extra'} data for column at line ${this.line}: expected ${this.columns.length} fields, got ${fields.length}`);
      }
      rows.push(fields.map((f, i) => (f === '\\N' ? null : this.columns[i]!.decodeText(unescapeText(f)))));
    }
  }

  private binaryRows(): unknown[][] {
    const rows: unknown[][] = [];
    let b = this.pending;
    if (!this.headerRead) {
      if (b.length < 19) return rows;
      if (!b.subarray(0, 11).equals(BINARY_SIGNATURE)) throw badCopy('COPY file signature not recognized');
      const extension = b.readUInt32BE(15);
      if (b.length < 19 + extension) return rows;
      b = b.subarray(19 + extension);
      this.headerRead = true;
    }
    for (;;) {
      if (this.finished || b.length < 2) break;
      const count = b.readInt16BE(0);
      if (count === -1) {
        this.finished = true;
        b = b.subarray(2);
        break;
      }
      if (count !== this.columns.length) throw badCopy(`row field count is ${count}, expected ${this.columns.length}`);
      let p = 2;
      const values: unknown[] = [];
      let complete = true;
      for (let i = 0; i < count; i++) {
        if (p + 4 > b.length) {
          complete = false;
          break;
        }
        const len = b.readInt32BE(p);
        p += 4;
        if (len < 0) {
          values.push(null);
          continue;
        }
        if (p + len > b.length) {
          complete = false;
          break;
        }
        values.push(this.columns[i]!.decodeBinary(b.subarray(p, p + len)));
        p += len;
      }
      if (!complete) break;
      rows.push(values);
      b = b.subarray(p);
    }
    this.pending = Buffer.from(b);
    return rows;
  }
}

function unescapeText(field: string): string {
  if (!field.includes('\\')) return field;
  return field.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return TEXT_UNESCAPES[e] ?? e;
  });
}
