/** A handler over fixed in-memory tables, for the engine's protocol tests and the binary-client tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HandlerEngine, HandlerError, executeTypeLookup, prepareTypeLookup, type Column, type Handlers, type HandlerEngineOptions } from '../../../runtime/engines/handlers/index.js';
import { PgServer } from '../../../runtime/server/server.js';
import type { Engine } from '../../../runtime/engine.js';
import type { Bind } from '../../../generated/index.js';

/** One row per supported type family; values as the codecs decode them. */
export const TYPED_COLUMNS: Column[] = [
  { name: 'id', type: 'int4' },
  { name: 'small', type: 'int2' },
  { name: 'big', type: 'int8' },
  { name: 'real', type: 'float4' },
  { name: 'double', type: 'float8' },
  { name: 'amount', type: 'numeric' },
  { name: 'flag', type: 'bool' },
  { name: 'label', type: 'text' },
  { name: 'day', type: 'date' },
  { name: 'at', type: 'timestamp' },
  { name: 'atz', type: 'timestamptz' },
  { name: 'uid', type: 'uuid' },
  { name: 'doc', type: 'jsonb' },
  { name: 'span', type: 'interval' },
  { name: 'tags', type: 'text[]' },
];

export const TYPED_ROWS: unknown[][] = [
  [1, 7, 9007199254740993n, 1.5, 0.1, '12345.6789', true, 'héllo', '2024-02-29', '2024-02-29 13:05:00.123456', '2024-02-29 13:05:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', { a: [1, 2] }, { months: 14, days: 3, microseconds: 4_000_000n }, ['a b', null, 'c']],
  [2, -1, -5n, -0.25, -1e100, '-0.001', false, '', '1999-12-31', '1970-01-01 00:00:00', '2000-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', null, { months: 0, days: 0, microseconds: 0n }, []],
  [3, null, null, null, null, null, null, null, null, null, null, null, null, null, null],
];

/** Statements that PostgreSQL runs too, so the same conversation can be had with both. */
const SERIES = /^\s*select\s+n\s+from\s+generate_series\(1,\s*(\d+)\)\s+n\s*;?\s*$/i;
export const FAILING = 'select 1/(n-2) as x from generate_series(1, 3) n';

/** SELECT * FROM typed [WHERE id = $1], SELECT n FROM generate_series(1, k) n, FAILING, SELECT $1::type, SET, INSERT. */
export function fixtureHandlers(log: string[] = [], items: unknown[][] = []): Handlers<string> {
  return {
    async copyFrom(sql) {
      if (!/^copy items from stdin/i.test(sql.trim())) throw new HandlerError('42P01', 'only COPY items FROM STDIN');
      return {
        columns: ITEM_COLUMNS,
        async write(rows) {
          for await (const row of rows) {
            if (row[0] === 13) throw new HandlerError('23514', 'unlucky row');
            items.push(row);
          }
        },
      };
    },
    copyTo() {
      return { columns: ITEM_COLUMNS, rows: items };
    },
    prepare(sql) {
      log.push(`prepare ${sql}`);
      const s = sql.trim().replace(/;$/, '');
      if (/^select \* from typed$/i.test(s)) return { columns: TYPED_COLUMNS, plan: 'typed' };
      if (/^select \* from typed where id = \$1$/i.test(s)) return { columns: TYPED_COLUMNS, parameterTypes: ['int4'], plan: 'typed-by-id' };
      if (SERIES.test(s)) return { columns: [{ name: 'n', type: 'int4' }], plan: 'series' };
      if (s.toLowerCase() === FAILING) return { columns: [{ name: 'x', type: 'int4' }], plan: 'fail' };
      if (/^select \$1::(\w+)$/i.test(s)) {
        const type = /::(\w+)$/.exec(s)![1]! as Column['type'];
        return { columns: [{ name: type as string, type }], parameterTypes: [type], plan: 'echo' };
      }
      const lookup = prepareTypeLookup(sql);
      if (lookup) return { ...lookup, plan: 'type-lookup' };
      if (/^set\b/i.test(s)) return { plan: 'set' };
      if (/^insert\b/i.test(s)) return { plan: 'insert' };
      throw new HandlerError('42601', `syntax error: ${s}`);
    },
    execute(portal, { maxRows }) {
      log.push(`execute ${portal.plan} max=${maxRows}`);
      switch (portal.plan) {
        case 'typed':
          return { rows: TYPED_ROWS };
        case 'typed-by-id':
          return { rows: TYPED_ROWS.filter((r) => r[0] === portal.parameters[0]) };
        case 'series': {
          const n = Number(SERIES.exec(portal.sql)![1]);
          return {
            rows: (function* () {
              for (let i = 1; i <= n; i++) yield [i];
            })(),
          };
        }
        case 'fail':
          return {
            rows: (async function* () {
              yield [-1];
              throw new HandlerError('22012', 'division by zero');
            })(),
          };
        case 'echo':
          return { rows: [[portal.parameters[0]]] };
        case 'type-lookup':
          return executeTypeLookup(portal.sql, portal.parameters)!;
        case 'set':
          return { tag: 'SET' };
        case 'insert':
          return { tag: 'INSERT 0 1' };
        default:
          throw new Error(`no plan ${portal.plan}`);
      }
    },
  };
}

/** The columns of the `items` table COPY fills and reads. */
export const ITEM_COLUMNS: Column[] = [
  { name: 'id', type: 'int4' },
  { name: 'name', type: 'text' },
  { name: 'at', type: 'timestamp' },
];

export interface Running {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function serve(engine: Engine): Promise<Running> {
  const server = new PgServer({ engine, listeners: [{ host: '127.0.0.1', port: 0 }] });
  const [address] = await server.listen();
  const port = address!.port!;
  return { port, url: `postgres://test@127.0.0.1:${port}/test`, close: () => server.close() };
}

export function fixtureEngine(log?: string[], options?: HandlerEngineOptions, items?: unknown[][]): HandlerEngine<string> {
  return new HandlerEngine(fixtureHandlers(log, items), options);
}

/** A temporary directory of CSV files; `remove()` deletes it. */
export function csvDirectory(files: Record<string, string>): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pgspec-csv-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Wraps an engine to record every Bind it receives (to see which result formats clients ask for). */
export function recordingBinds(engine: Engine, binds: Bind[]): Engine {
  return {
    name: engine.name,
    async openSession(start, events) {
      const inner = await engine.openSession(start, events);
      return {
        parameterStatus: inner.parameterStatus,
        execute(messages, out) {
          for (const m of messages) if (m.type === 'Bind') binds.push(m);
          return inner.execute(messages, out);
        },
        cancel: () => inner.cancel(),
        close: () => inner.close(),
      };
    },
    close: () => engine.close(),
  };
}
