/** Reading CSV files into typed tables: RFC 4180 parsing and per-column type inference. */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { codecForName } from '../../runtime/values/index.js';

export type CsvType = 'int8' | 'float8' | 'bool' | 'date' | 'timestamp' | 'text';

export interface CsvColumn {
  readonly name: string;
  readonly type: CsvType;
}

export interface CsvTable {
  readonly name: string;
  /** A made-up relation OID, reported in RowDescription and the catalog. */
  readonly oid: number;
  readonly file: string;
  readonly columns: readonly CsvColumn[];
  /** Values decoded to what the type's codec gives (bigint, number, boolean, ISO strings); empty cells are NULL. */
  readonly rows: readonly (readonly unknown[])[];
}

/** Splits CSV text into records: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records.filter((r) => !(r.length === 1 && r[0] === ''));
}

const INT8 = /^[+-]?\d{1,19}$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const BOOL = /^(true|false|t|f|yes|no)$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Whether every non-empty value can be read as the type. */
function fits(type: CsvType, values: readonly string[]): boolean {
  const codec = codecForName(type)!;
  const test = { int8: INT8, float8: FLOAT, bool: BOOL, date: DATE, timestamp: TIMESTAMP, text: /^/ }[type];
  return values.every((v) => {
    if (!test.test(v)) return false;
    try {
      codec.decodeText(v);
      return true;
    } catch {
      return false;
    }
  });
}

const ORDER: CsvType[] = ['int8', 'float8', 'bool', 'date', 'timestamp', 'text'];

export function inferType(values: readonly string[]): CsvType {
  const present = values.filter((v) => v !== '');
  if (present.length === 0) return 'text';
  return ORDER.find((t) => fits(t, present)) ?? 'text';
}

/** One table from a CSV file whose first record names the columns. */
export function loadTable(file: string, oid: number): CsvTable {
  const [header = [], ...records] = parseCsv(readFileSync(file, 'utf8'));
  const columns = header.map((name, i) => ({ name: name.trim(), type: inferType(records.map((r) => r[i] ?? '')) }));
  const codecs = columns.map((c) => codecForName(c.type)!);
  const rows = records.map((r) => columns.map((_, i) => (r[i] === undefined || r[i] === '' ? null : codecs[i]!.decodeText(r[i]!))));
  return { name: basename(file).replace(/\.csv$/i, ''), oid, file, columns, rows };
}

/** Every *.csv file in a directory, by table name. */
export function loadDirectory(dir: string): Map<string, CsvTable> {
  const tables = new Map<string, CsvTable>();
  const files = readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.csv')).sort();
  files.forEach((f, i) => {
    const table = loadTable(join(dir, f), 16384 + i);
    tables.set(table.name, table);
  });
  return tables;
}
