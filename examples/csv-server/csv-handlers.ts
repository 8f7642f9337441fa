/** The CSV server's handlers: statements parsed by sql.ts, rows read from the loaded tables. */
import type { Column, ExecuteResult, Handlers, Prepared, TypeRef } from '../../runtime/engines/handlers/index.js';
import { HandlerError } from '../../runtime/engines/handlers/index.js';
import { codecForName, type AnyCodec } from '../../runtime/values/index.js';
import type { CsvTable } from './csv.js';
import { parseStatement, type Operand, type SelectStatement, type Statement } from './sql.js';

/** What prepare hands to execute: the parsed statement, bound to its table. */
type Plan =
  | { readonly kind: 'select'; readonly table: CsvTable; readonly columns: readonly number[]; readonly where: readonly { column: number; value: Operand }[]; readonly limit: Operand | undefined }
  | { readonly kind: 'set' }
  | { readonly kind: 'show'; readonly name: string }
  | { readonly kind: 'listRelations'; readonly pattern: RegExp | undefined };

const SETTINGS: Record<string, string> = {
  server_version: '15.0 (pgspec csv-server)',
  server_encoding: 'UTF8',
  client_encoding: 'UTF8',
  datestyle: 'ISO, MDY',
  timezone: 'UTC',
  standard_conforming_strings: 'on',
  transaction_isolation: 'read committed',
  integer_datetimes: 'on',
};

function findTable(tables: ReadonlyMap<string, CsvTable>, ref: { name: string; quoted: boolean }): CsvTable {
  const exact = tables.get(ref.name);
  if (exact) return exact;
  if (!ref.quoted) for (const t of tables.values()) if (t.name.toLowerCase() === ref.name) return t;
  throw new HandlerError('42P01', `relation "${ref.name}" does not exist`);
}

function findColumn(table: CsvTable, ref: { name: string; quoted: boolean }): number {
  let i = table.columns.findIndex((c) => c.name === ref.name);
  if (i < 0 && !ref.quoted) i = table.columns.findIndex((c) => c.name.toLowerCase() === ref.name);
  if (i < 0) throw new HandlerError('42703', `column "${ref.name}" does not exist`);
  return i;
}

function bindSelect(tables: ReadonlyMap<string, CsvTable>, s: SelectStatement): Plan {
  const table = findTable(tables, s.table);
  const columns = s.columns === '*' ? table.columns.map((_, i) => i) : s.columns.map((c) => findColumn(table, c));
  const where = s.where.map((w) => ({ column: findColumn(table, w.column), value: w.value }));
  return { kind: 'select', table, columns, where, limit: s.limit };
}

/** A value in the column type's canonical text, for comparing values whatever type the client sent. */
function canonical(value: unknown, codec: AnyCodec): string | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    if (typeof value === 'string') return codec.encodeText(codec.decodeText(value));
    if (typeof value === 'bigint' && codec.type.name === 'float8') return codec.encodeText(Number(value));
    if (typeof value === 'number' && codec.type.name === 'int8') return Number.isInteger(value) ? codec.encodeText(BigInt(value)) : undefined;
    return codec.encodeText(value);
  } catch {
    return undefined;
  }
}

function operandValue(o: Operand, params: readonly unknown[]): unknown {
  return 'param' in o ? params[o.param - 1] : o.literal;
}

function* selectRows(plan: Extract<Plan, { kind: 'select' }>, params: readonly unknown[]): Generator<unknown[]> {
  const codecs = plan.table.columns.map((c) => codecForName(c.type)!);
  const wanted = plan.where.map((w) => ({ column: w.column, value: canonical(operandValue(w.value, params), codecs[w.column]!) }));
  let limit = Infinity;
  if (plan.limit) {
    const v = operandValue(plan.limit, params);
    if (v !== null && v !== undefined) limit = Number(v);
    if (!Number.isInteger(limit) || limit < 0) throw new HandlerError('2201W', 'LIMIT must not be negative');
  }
  let sent = 0;
  for (const row of plan.table.rows) {
    if (sent >= limit) return;
    // NULL never equals anything, as in SQL.
    if (!wanted.every((w) => w.value !== undefined && canonical(row[w.column], codecs[w.column]!) === w.value)) continue;
    sent++;
    yield plan.columns.map((i) => row[i]);
  }
}

export function csvHandlers(tables: ReadonlyMap<string, CsvTable>): Handlers<Plan> {
  const plan = (s: Statement): Plan => (s.kind === 'select' ? bindSelect(tables, s) : s);

  function describe(p: Plan, clientTypes: readonly number[]): Prepared<Plan> {
    switch (p.kind) {
      case 'select': {
        const columns: Column[] = p.columns.map((i) => ({ name: p.table.columns[i]!.name, type: p.table.columns[i]!.type, tableOid: p.table.oid, columnNumber: i + 1 }));
        const parameterTypes: TypeRef[] = [];
        for (const w of p.where) if ('param' in w.value) parameterTypes[w.value.param - 1] = p.table.columns[w.column]!.type;
        if (p.limit && 'param' in p.limit) parameterTypes[p.limit.param - 1] = 'int8';
        for (let i = 0; i < Math.max(parameterTypes.length, clientTypes.length); i++) parameterTypes[i] ??= 'text';
        return { columns, parameterTypes, plan: p };
      }
      case 'listRelations':
        return {
          columns: [
            { name: 'Schema', type: 'name' },
            { name: 'Name', type: 'name' },
            { name: 'Type', type: 'text' },
            { name: 'Owner', type: 'name' },
          ],
          plan: p,
        };
      case 'show':
        return { columns: [{ name: p.name, type: 'text' }], plan: p };
      case 'set':
        return { plan: p };
    }
  }

  function run(p: Plan, params: readonly unknown[], user: string): ExecuteResult {
    switch (p.kind) {
      case 'select':
        return { rows: selectRows(p, params) };
      case 'listRelations': {
        const names = [...tables.keys()].filter((n) => p.pattern === undefined || p.pattern.test(n)).sort();
        return { rows: names.map((n) => ['public', n, 'table', user]) };
      }
      case 'show': {
        const value = SETTINGS[p.name];
        if (value === undefined) throw new HandlerError('42704', `unrecognized configuration parameter "${p.name}"`);
        return { rows: [[value]], tag: 'SHOW' };
      }
      case 'set':
        return { tag: 'SET' };
    }
  }

  return {
    prepare(sql, parameterTypes) {
      return describe(plan(parseStatement(sql)), parameterTypes);
    },
    execute(portal, _options, ctx) {
      return run(portal.plan!, portal.parameters, ctx.session.user);
    },
    query(sql, ctx) {
      const p = describe(plan(parseStatement(sql)), []);
      if (p.parameterTypes?.length) throw new HandlerError('42P02', 'there is no parameter $1');
      return { columns: p.columns, ...run(p.plan!, [], ctx.session.user) };
    },
    copyTo(sql) {
      // COPY table TO STDOUT: the whole table.
      const m = /^\s*copy\s+("(?:[^"]|"")+"|[\w.]+)\s+to\s+stdout/i.exec(sql);
      if (!m) throw new HandlerError('0A000', 'only COPY table TO STDOUT is supported');
      const name = m[1]!.startsWith('"') ? { name: m[1]!.slice(1, -1).replace(/""/g, '"'), quoted: true } : { name: m[1]!.replace(/^public\./i, '').toLowerCase(), quoted: false };
      const table = findTable(tables, name);
      return { columns: table.columns.map((c) => ({ name: c.name, type: c.type })), rows: table.rows };
    },
  };
}
