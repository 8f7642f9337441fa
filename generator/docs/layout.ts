/**
 * A message's byte layout, read from the model: one box per field with its width (fixed, counted,
 * terminated or to the end of the message), repeated groups as nested boxes, and the rows of the
 * field table with wire type, TypeScript type and constraints.
 */
import type { EnumModel, FieldModel, MessageModel, SpecModel, TypeModel } from '../model.js';
import { tsType } from '../emit/field-code.js';

export type WidthKind = 'fixed' | 'counted' | 'terminated' | 'rest';

export interface LayoutBox {
  readonly name: string;
  readonly wire: string;
  /** Width in words: "4 bytes", "NUL-terminated", "to end of message", "4 + n bytes". */
  readonly width: string;
  readonly widthKind: WidthKind;
  readonly header: boolean;
  /** For a repeated group: how many times, in words, and the boxes of one element. */
  readonly repeat?: string;
  readonly children?: readonly LayoutBox[];
}

export interface FieldRow {
  /** Dotted path, with [] for array elements: columns[].name */
  readonly path: string;
  readonly depth: number;
  readonly wire: string;
  /** The field's type in the generated interface; undefined for fixed-value fields, which the interface omits. */
  readonly tsType: string | undefined;
  readonly doc: string;
  readonly constraints: readonly string[];
  /** The enum the field's values come from, for a link and the value list. */
  readonly enumName: string | undefined;
}

const INT_NAMES: Record<string, string> = {
  int8: 'Int8',
  int16: 'Int16',
  int32: 'Int32',
  int64: 'Int64',
  uint8: 'UInt8',
  uint16: 'UInt16',
  uint32: 'UInt32',
  int32le: 'Int32LE',
  uint32le: 'UInt32LE',
};
export const INT_SIZE: Record<string, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int32le: 4, uint32le: 4, int64: 8 };

const plural = (n: number): string => `${n} byte${n === 1 ? '' : 's'}`;

/** The wire type of a field in the notation of PostgreSQL's protocol documentation. */
export function wireName(t: TypeModel, model: SpecModel): string {
  switch (t.kind) {
    case 'int':
      return INT_NAMES[t.wire]!;
    case 'byte1':
      return 'Byte1';
    case 'cstring':
      return 'String';
    case 'bytes':
      if (t.length.kind === 'rest') return 'Byte[rest]';
      if (t.length.kind === 'fixed') return `Byte[${t.length.size}]`;
      return `${INT_NAMES[t.length.prefix]} n, Byte[n]${t.length.nullable ? ' (n = -1: NULL)' : ''}`;
    case 'array':
      if (t.count) return `${INT_NAMES[t.count]} count, ${wireName(t.item, model)}[count]`;
      return `${wireName(t.item, model)}[] until ${INT_NAMES[t.terminator!.wire]} ${t.terminator!.value}`;
    case 'struct':
      return t.name;
  }
}

function leafBox(name: string, t: TypeModel, model: SpecModel): LayoutBox {
  const wire = wireName(t, model);
  switch (t.kind) {
    case 'int':
      return { name, wire, width: plural(INT_SIZE[t.wire]!), widthKind: 'fixed', header: false };
    case 'byte1':
      return { name, wire, width: plural(1), widthKind: 'fixed', header: false };
    case 'cstring':
      return { name, wire, width: 'NUL-terminated', widthKind: 'terminated', header: false };
    case 'bytes':
      if (t.length.kind === 'rest') return { name, wire, width: 'to end of message', widthKind: 'rest', header: false };
      if (t.length.kind === 'fixed') return { name, wire, width: plural(t.length.size), widthKind: 'fixed', header: false };
      return { name, wire, width: `${INT_SIZE[t.length.prefix]} + n bytes`, widthKind: 'counted', header: false };
    default:
      throw new Error(`not a leaf type: ${t.kind}`);
  }
}

function boxesOf(name: string, t: TypeModel, model: SpecModel): LayoutBox[] {
  if (t.kind === 'struct') {
    const s = model.structs.find((x) => x.name === t.name)!;
    return [{ name, wire: t.name, width: 'sum of its fields', widthKind: 'counted', header: false, children: s.fields.flatMap((f) => boxesOf(f.name, f.type, model)) }];
  }
  if (t.kind !== 'array') return [leafBox(name, t, model)];
  const item = t.item.kind === 'struct' ? model.structs.find((x) => x.name === (t.item as { name: string }).name)!.fields.flatMap((f) => boxesOf(f.name, f.type, model)) : boxesOf(`${name}[i]`, t.item, model);
  if (t.count) {
    return [
      { name: `${name} count`, wire: INT_NAMES[t.count]!, width: plural(INT_SIZE[t.count]!), widthKind: 'fixed', header: false },
      { name, wire: wireName(t, model), width: 'count × element', widthKind: 'counted', header: false, repeat: `× count`, children: item },
    ];
  }
  const term = t.terminator!;
  return [
    { name, wire: wireName(t, model), width: 'until the terminator', widthKind: 'terminated', header: false, repeat: `until ${INT_NAMES[term.wire]} ${term.value}`, children: item },
    { name: `${name} end`, wire: `${INT_NAMES[term.wire]} = ${term.value}`, width: plural(INT_SIZE[term.wire]!), widthKind: 'fixed', header: false },
  ];
}

/** The boxes of a whole message, framing included. */
export function messageLayout(m: MessageModel, model: SpecModel): LayoutBox[] {
  const header: LayoutBox[] = [];
  if (m.framing === 'typed') header.push({ name: `type '${m.typeByte}'`, wire: 'Byte1', width: plural(1), widthKind: 'fixed', header: true });
  header.push({ name: 'length', wire: 'Int32', width: plural(4), widthKind: 'fixed', header: true });
  const body = m.fields.flatMap((f) => {
    const boxes = boxesOf(f.name, f.type, model);
    return f.constant !== undefined ? boxes.map((b) => ({ ...b, name: `${b.name} = ${f.constant}` })) : boxes;
  });
  return [...header, ...body];
}

/** The layout as one line of text, for the Markdown pages. */
export function layoutText(boxes: readonly LayoutBox[]): string {
  return boxes
    .map((b) => (b.children ? `{ ${layoutText(b.children)} } ${b.repeat ?? ''}`.trim() : `[${b.name}: ${b.wire}, ${b.width}]`))
    .join(' ');
}

function enumConstraint(e: EnumModel, strict: boolean): string {
  return `${strict ? 'one of' : 'usually one of'} ${e.name}: ${e.values.map((v) => `${JSON.stringify(v.value)} ${v.name}`).join(', ')}${strict ? '' : ' (other values pass through)'}`;
}

function constraintsOf(f: FieldModel, t: TypeModel, model: SpecModel): string[] {
  const out: string[] = [];
  if (f.constant !== undefined) out.push(`always ${f.constant}${f.constantRef ? ` (${f.constantRef})` : ''}`);
  if ((t.kind === 'int' || t.kind === 'byte1') && t.enumName) {
    const e = model.enums.find((x) => x.name === t.enumName)!;
    out.push(enumConstraint(e, t.strictEnum));
  }
  if (t.kind === 'bytes') {
    if (t.length.kind === 'fixed') out.push(`exactly ${plural(t.length.size)}`);
    if (t.minLength !== undefined || t.maxLength !== undefined) out.push(`length ${t.minLength ?? 0} to ${t.maxLength ?? 'any'}`);
    for (const [v, lim] of Object.entries(t.lengthByVersion ?? {})) out.push(`protocol ${v}: ${lim.min === lim.max ? `exactly ${plural(lim.min)}` : `${lim.min} to ${lim.max} bytes`}`);
    if (t.length.kind === 'prefixed' && t.length.nullable) out.push('length -1 is NULL');
  }
  if (t.kind === 'array') {
    if (t.count) out.push(`count is ${INT_NAMES[t.count]}`);
    else out.push(`ends with ${INT_NAMES[t.terminator!.wire]} ${t.terminator!.value}`);
  }
  return out;
}

function rowsOf(f: FieldModel, path: string, depth: number, model: SpecModel): FieldRow[] {
  const t = f.type;
  const enumName = (t.kind === 'int' || t.kind === 'byte1') && t.enumName ? t.enumName : undefined;
  const rows: FieldRow[] = [
    { path, depth, wire: wireName(t, model), tsType: f.constant === undefined ? tsType(t, model) : undefined, doc: f.doc.trim(), constraints: constraintsOf(f, t, model), enumName },
  ];
  const inner: TypeModel | undefined = t.kind === 'array' ? t.item : t.kind === 'struct' ? t : undefined;
  const innerPath = t.kind === 'array' ? `${path}[]` : path;
  if (inner?.kind === 'struct') {
    const s = model.structs.find((x) => x.name === (inner as { name: string }).name)!;
    for (const sf of s.fields) rows.push(...rowsOf(sf, `${innerPath}.${sf.name}`, depth + 1, model));
  } else if (inner && t.kind === 'array') {
    const itemEnum = (inner.kind === 'int' || inner.kind === 'byte1') && inner.enumName ? inner.enumName : undefined;
    const pseudo: FieldModel = { name: 'item', doc: `One element of ${f.name}.`, type: inner };
    rows.push({ path: innerPath, depth: depth + 1, wire: wireName(inner, model), tsType: tsType(inner, model), doc: pseudo.doc, constraints: constraintsOf(pseudo, inner, model), enumName: itemEnum });
  }
  return rows;
}

/** The field table of a message: every field, then the elements of repeated groups, indented. */
export function fieldRows(m: MessageModel, model: SpecModel): FieldRow[] {
  return m.fields.flatMap((f) => rowsOf(f, f.name, 0, model));
}
