/** Column and parameter types resolved to OIDs, sizes and value codecs. */
import { Buffer } from 'node:buffer';
import { DATA_TYPES, type ColumnDescription } from '../../../generated/index.js';
import { codecForName, codecForOid, type AnyCodec } from '../../values/index.js';
import { HandlerError, type Column, type TypeRef } from './api.js';

/** A type as the engine uses it: OID, size, and how values of it are encoded either way. */
export interface ResolvedType {
  readonly oid: number;
  readonly size: number;
  readonly name: string;
  encodeText(value: unknown): string;
  encodeBinary(value: unknown): Uint8Array;
  decodeText(text: string): unknown;
  decodeBinary(bytes: Uint8Array): unknown;
}

export interface ResolvedColumn extends ResolvedType {
  /** The RowDescription entry, format left to the caller. */
  readonly description: Omit<ColumnDescription, 'format'>;
}

const cache = new Map<TypeRef, ResolvedType>();

/** A type with no codec here: text passes through as a string, binary as bytes. */
function opaqueType(oid: number, size: number, name: string): ResolvedType {
  return {
    oid,
    size,
    name,
    encodeText: (v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v)),
    encodeBinary: (v) => {
      if (v instanceof Uint8Array) return v;
      throw new HandlerError('42883', `no binary output function available for type ${name}`);
    },
    decodeText: (t) => t,
    decodeBinary: (b) => Buffer.from(b),
  };
}

function fromCodec(codec: AnyCodec): ResolvedType {
  return {
    oid: codec.type.oid,
    size: codec.type.size,
    name: codec.type.name,
    encodeText: (v) => codec.encodeText(v),
    encodeBinary: (v) => codec.encodeBinary(v),
    decodeText: (t) => codec.decodeText(t),
    decodeBinary: (b) => codec.decodeBinary(b),
  };
}

export function resolveType(ref: TypeRef): ResolvedType {
  let t = cache.get(ref);
  if (t) return t;
  if (typeof ref === 'number') {
    const codec = codecForOid(ref);
    t = codec ? fromCodec(codec) : opaqueType(ref, -1, `type ${ref}`);
  } else {
    const codec = codecForName(ref);
    if (codec) t = fromCodec(codec);
    else {
      const spec = (DATA_TYPES as Record<string, { oid: number; size: number } | undefined>)[ref];
      if (!spec) throw new HandlerError('42704', `type "${ref}" does not exist`);
      t = opaqueType(spec.oid, spec.size, ref);
    }
  }
  cache.set(ref, t);
  return t;
}

export function resolveColumn(c: Column): ResolvedColumn {
  const t = resolveType(c.type);
  return {
    ...t,
    description: {
      name: c.name,
      tableOid: c.tableOid ?? 0,
      columnNumber: c.columnNumber ?? 0,
      typeOid: t.oid,
      typeSize: t.size,
      typeModifier: c.typeModifier ?? -1,
    },
  };
}
