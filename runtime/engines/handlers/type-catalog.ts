/**
 * Answers for the pg_type look-ups drivers send about result types before they decode them
 * (pgJDBC's TypeInfoCache asks for every type outside its built-in list, jsonb and interval
 * among them). Built from the spec's DATA_TYPES; a handler can route these statements here.
 */
import { DATA_TYPES } from '../../../generated/index.js';
import type { Column, ExecuteResult, Prepared } from './api.js';

interface TypeLookup {
  readonly columns: readonly Column[];
  readonly parameterTypes: readonly ('oid' | 'name')[];
  rows(parameters: readonly unknown[]): unknown[][];
}

const BY_OID = new Map<number, string>();
for (const t of Object.values(DATA_TYPES) as { name: string; oid: number; arrayOid?: number }[]) {
  BY_OID.set(t.oid, t.name);
  if (t.arrayOid !== undefined) BY_OID.set(t.arrayOid, `_${t.name}`);
}

const LOOKUPS: { readonly pattern: RegExp; readonly lookup: TypeLookup }[] = [
  {
    // pgJDBC: is the type visible on the search path, its schema and name.
    pattern: /^select n\.nspname = any\(current_schemas\(true\)\), n\.nspname, t\.typname from pg_catalog\.pg_type t join pg_catalog\.pg_namespace n on t\.typnamespace = n\.oid where t\.oid = \$1$/i,
    lookup: {
      columns: [
        { name: '?column?', type: 'bool' },
        { name: 'nspname', type: 'name' },
        { name: 'typname', type: 'name' },
      ],
      parameterTypes: ['oid'],
      rows: ([oid]) => {
        const name = BY_OID.get(Number(oid));
        return name === undefined ? [] : [[true, 'pg_catalog', name]];
      },
    },
  },
  {
    // pgJDBC: whether the type is an array, its kind, name and OID (for getSQLType).
    pattern: /^select typinput='pg_catalog\.array_in'::regproc as is_array, typtype, typname, pg_type\.oid from pg_catalog\.pg_type .* where pg_type\.oid = \$1 order by sp\.r, pg_type\.oid desc$/i,
    lookup: {
      columns: [
        { name: 'is_array', type: 'bool' },
        { name: 'typtype', type: 'char' },
        { name: 'typname', type: 'name' },
        { name: 'oid', type: 'oid' },
      ],
      parameterTypes: ['oid'],
      rows: ([oid]) => {
        const name = BY_OID.get(Number(oid));
        return name === undefined ? [] : [[name.startsWith('_'), 'b', name, Number(oid)]];
      },
    },
  },
];

function find(sql: string): TypeLookup | undefined {
  const s = sql.trim().replace(/;$/, '').replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')');
  return LOOKUPS.find((l) => l.pattern.test(s))?.lookup;
}

/** The statement's description, when it is a type look-up this module answers. */
export function prepareTypeLookup(sql: string): Prepared | undefined {
  const l = find(sql);
  return l && { columns: l.columns, parameterTypes: l.parameterTypes };
}

/** The statement's rows, when it is a type look-up this module answers. */
export function executeTypeLookup(sql: string, parameters: readonly unknown[]): ExecuteResult | undefined {
  const l = find(sql);
  return l && { rows: l.rows(parameters) };
}
