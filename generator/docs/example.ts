/**
 * Example instances for the docs: a sensible value for every field, built from the model, and
 * its encoding with the byte range of every field recorded, written with the runtime's Writer in
 * the order the generated encoder writes (the docs build checks the two agree).
 */
import { Buffer } from 'node:buffer';
import { ValueList, Writer, type ValueInit } from '../../runtime/wire/index.js';
import type { MessageModel, ReplyModel, SpecModel, TypeModel } from '../model.js';
import { INT_SIZE } from './layout.js';

/** A value of a generated interface: what the generated encoder takes and the decoder returns. */
export type Value = number | bigint | string | Uint8Array | ValueList | null | readonly Value[] | { readonly [k: string]: Value };
export type Instance = { readonly type: string } & { readonly [k: string]: Value };

/** JSON-safe form of a value, for comparing a decoded message with the example and embedding it in a page. */
export type Plain = null | number | string | readonly Plain[] | { readonly [k: string]: Plain };

export interface Span {
  readonly start: number;
  readonly end: number;
  /** The field path: "parameters[1] length", "type byte". */
  readonly label: string;
  /** The value written, in words. */
  readonly value: string;
  readonly kind: 'header' | 'count' | 'length' | 'value' | 'terminator' | 'constant';
}

export interface EncodedExample {
  readonly instance: Instance;
  readonly bytes: Uint8Array;
  /** Contiguous, in order, covering every byte once. */
  readonly spans: readonly Span[];
  /** The protocol version code the example is decoded under. */
  readonly protocolVersion: number;
}

// Values that make an example read like real traffic. A hint for a field inside a repeated group
// is a list indexed by the element's position; any other hint is the field's whole value.
const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const HINTS: Record<string, unknown> = {
  'Bind.portal': '',
  'Bind.statement': 'stmt1',
  'Execute.portal': '',
  'Bind.parameterFormats': [0],
  'Bind.parameters': ['42', null],
  'Bind.resultFormats': [1],
  'Parse.statement': 'stmt1',
  'Parse.query': 'SELECT $1::int4 + 1',
  'Parse.parameterTypes': [23],
  'Query.query': 'SELECT 1',
  'CommandComplete.tag': 'SELECT 1',
  'Execute.maxRows': 0,
  'FunctionCall.functionOid': 1598,
  'FunctionCall.argumentFormats': [0],
  'FunctionCall.arguments': ['42'],
  'FunctionCall.resultFormat': 0,
  'CopyFail.message': 'aborted by the client',
  'CopyData.data': utf8('1\tone\n'),
  'DataRow.values': ['1', null],
  'PasswordMessage.password': 'md5c4ca4238a0b923820dcc509a6f75849b',
  'SASLInitialResponse.mechanism': 'SCRAM-SHA-256',
  'SASLInitialResponse.data': utf8('n,,n=,r=fyko+d2lbbFgONRv9qkxdawL'),
  'SASLResponse.data': utf8('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='),
  'AuthenticationSASL.mechanisms': ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'],
  'AuthenticationSASLContinue.data': utf8('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'),
  'AuthenticationSASLFinal.data': utf8('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='),
  'AuthenticationMD5Password.salt': new Uint8Array([0x93, 0x1f, 0x5c, 0x2e]),
  'BackendKeyData.processId': 4242,
  'BackendKeyData.secretKey': new Uint8Array([0x5e, 0x1f, 0x8c, 0x2a]),
  'CancelRequest.processId': 4242,
  'CancelRequest.secretKey': new Uint8Array([0x5e, 0x1f, 0x8c, 0x2a]),
  'NotificationResponse.processId': 4242,
  'NotificationResponse.channel': 'jobs',
  'NotificationResponse.payload': 'job 17 done',
  'ParameterStatus.name': 'client_encoding',
  'ParameterStatus.value': 'UTF8',
  'ParameterDescription.parameterTypes': [23, 25],
  'NegotiateProtocolVersion.newestVersion': 196608,
  'NegotiateProtocolVersion.unrecognizedOptions': ['_pq_.compression'],
  'StartupMessage.protocolVersion': 196608,
  'StartupParameter.name': ['user', 'database'],
  'StartupParameter.value': ['alice', 'shop'],
  'ErrorResponseField.code': ['S', 'C', 'M'],
  'ErrorResponseField.value': ['ERROR', '42601', 'syntax error at end of input'],
  'NoticeResponseField.code': ['S', 'C', 'M'],
  'NoticeResponseField.value': ['NOTICE', '00000', 'table "t" does not exist, skipping'],
  'ColumnDescription.name': ['id', 'title'],
  'ColumnDescription.tableOid': [16384, 16384],
  'ColumnDescription.columnNumber': [1, 2],
  'ColumnDescription.typeOid': [23, 25],
  'ColumnDescription.typeSize': [4, -1],
  'ColumnDescription.typeModifier': [-1, -1],
  'ColumnDescription.format': [0, 0],
  'ExtendProtocolBlock.subtag': [0, 2],
  // A ModifiedRelations payload: count 1, relation OID 16384, little-endian.
  'ExtendProtocolBlock.data': [new Uint8Array([1, 0, 0, 0, 0x00, 0x40, 0, 0]), new Uint8Array([1, 0, 0, 0, 0x01, 0x40, 0, 0])],
  'Close.name': 'stmt1',
  'Describe.name': 'stmt1',
};

const DEFAULT_INT: Record<string, number> = { int8: 1, uint8: 1, int16: 1, uint16: 1, int32: 42, uint32: 16384, int32le: 1, uint32le: 16384 };

interface SampleContext {
  readonly model: SpecModel;
  readonly owner: string;
  readonly field: string;
  /** Position inside the enclosing repeated group, if any. */
  readonly index: number | undefined;
  readonly versionName: string;
}

function hintFor(cx: SampleContext, t: TypeModel): unknown {
  const h = HINTS[`${cx.owner}.${cx.field}`];
  if (h === undefined) return undefined;
  if (t.kind !== 'array' && Array.isArray(h) && cx.index !== undefined) return h[cx.index % h.length];
  return h;
}

function sample(t: TypeModel, cx: SampleContext): Value {
  const hint = hintFor(cx, t);
  const i = cx.index ?? 0;
  switch (t.kind) {
    case 'int': {
      if (t.wire === 'int64') return typeof hint === 'bigint' ? hint : BigInt(typeof hint === 'number' ? hint : 42);
      if (typeof hint === 'number') return hint;
      const e = t.enumName ? cx.model.enums.find((x) => x.name === t.enumName) : undefined;
      if (e) return e.values[i % e.values.length]!.value as number;
      return DEFAULT_INT[t.wire]!;
    }
    case 'byte1': {
      if (typeof hint === 'string') return hint;
      const e = t.enumName ? cx.model.enums.find((x) => x.name === t.enumName) : undefined;
      return e ? (e.values[i % e.values.length]!.value as string) : 'x';
    }
    case 'cstring':
      return typeof hint === 'string' ? hint : `${cx.field}${cx.index !== undefined ? i + 1 : ''}`;
    case 'bytes': {
      if (hint instanceof Uint8Array) return hint;
      let n = t.length.kind === 'fixed' ? t.length.size : 4;
      const byVersion = t.lengthByVersion?.[cx.versionName];
      if (byVersion) n = Math.max(byVersion.min, Math.min(n, byVersion.max));
      if (t.minLength !== undefined) n = Math.max(n, t.minLength);
      if (t.maxLength !== undefined) n = Math.min(n, t.maxLength);
      return new Uint8Array(Array.from({ length: n }, (_, k) => (0xa0 + k + i) & 0xff));
    }
    case 'array': {
      if (t.count && t.item.kind === 'bytes' && t.item.length.kind === 'prefixed' && t.item.length.nullable && t.item.length.prefix === 'int32') {
        const values = Array.isArray(hint) ? (hint as ValueInit[]) : ['1', null];
        return ValueList.from(values);
      }
      if (Array.isArray(hint)) return hint as Value[];
      return [0, 1].map((k) => sample(t.item, { ...cx, index: k }));
    }
    case 'struct': {
      const s = cx.model.structs.find((x) => x.name === t.name)!;
      const out: Record<string, Value> = {};
      for (const f of s.fields) if (f.constant === undefined) out[f.name] = sample(f.type, { ...cx, owner: s.name, field: f.name });
      return out;
    }
  }
}

/** The protocol version an example of this message is shown under: the one it appeared in. */
export function exampleVersion(m: MessageModel, model: SpecModel): { name: string; code: number } {
  const v = model.protocol.versions.find((x) => x.name === m.since) ?? model.protocol.versions[0]!;
  return { name: v.name, code: v.code };
}

/** A filled-in instance of the message's generated interface. */
export function exampleInstance(m: MessageModel, model: SpecModel): Instance {
  const versionName = exampleVersion(m, model).name;
  const out: Record<string, Value> = { type: m.name };
  for (const f of m.fields) {
    if (f.constant !== undefined) continue;
    out[f.name] = sample(f.type, { model, owner: m.name, field: f.name, index: undefined, versionName });
  }
  return out as Instance;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function describeBytes(b: Uint8Array): string {
  const s = Buffer.from(b).toString('latin1');
  if (b.length > 0 && /^[\x20-\x7e\t\n]*$/.test(s)) return `${b.length} bytes ${JSON.stringify(s)}`;
  return `${b.length} bytes`;
}

function enumLabel(model: SpecModel, t: TypeModel, v: number | string): string {
  if ((t.kind !== 'int' && t.kind !== 'byte1') || !t.enumName) return '';
  const member = model.enums.find((e) => e.name === t.enumName)?.values.find((x) => x.value === v);
  return member ? ` (${t.enumName}.${member.name})` : '';
}

class SpanWriter {
  readonly w = new Writer(256);
  readonly spans: Span[] = [];
  constructor(private readonly model: SpecModel) {}

  private mark(start: number, label: string, value: string, kind: Span['kind']): void {
    this.spans.push({ start, end: this.w.pos, label, value, kind });
  }

  write(t: TypeModel, v: Value, label: string, kind: Span['kind'] = 'value'): void {
    const w = this.w;
    const at = w.pos;
    switch (t.kind) {
      case 'int':
        if (t.wire === 'int64') w.int64(v as bigint);
        else w[t.wire](v as number);
        this.mark(at, label, `${String(v)}${enumLabel(this.model, t, v as number)}`, kind);
        return;
      case 'byte1':
        w.byte1(v as string, 'example', label);
        this.mark(at, label, `${JSON.stringify(v)}${enumLabel(this.model, t, v as string)}`, kind);
        return;
      case 'cstring':
        w.cstring(v as string);
        this.mark(at, label, JSON.stringify(v), kind);
        return;
      case 'bytes': {
        const b = v as Uint8Array | null;
        if (t.length.kind === 'prefixed') {
          w[t.length.prefix](b === null ? -1 : b.length);
          this.mark(at, `${label} length`, b === null ? '-1 (NULL)' : String(b.length), 'length');
          if (b === null || b.length === 0) return;
        }
        const start = w.pos;
        w.bytes(b!);
        this.mark(start, label, describeBytes(b!), kind);
        return;
      }
      case 'array': {
        const items: readonly Value[] = v instanceof ValueList ? [...v] : (v as readonly Value[]);
        if (t.count) {
          w[t.count](items.length);
          this.mark(at, `${label} count`, String(items.length), 'count');
        }
        items.forEach((item, k) => this.write(t.item, item, `${label}[${k}]`));
        if (t.terminator) {
          const start = w.pos;
          if (t.terminator.wire === 'uint8') w.uint8(t.terminator.value);
          else w.int32(t.terminator.value);
          this.mark(start, `${label} end`, String(t.terminator.value), 'terminator');
        }
        return;
      }
      case 'struct': {
        const s = this.model.structs.find((x) => x.name === t.name)!;
        const obj = v as Readonly<Record<string, Value>>;
        for (const f of s.fields) {
          if (f.constant !== undefined) this.write(f.type, f.constant, `${label}.${f.name}`, 'constant');
          else this.write(f.type, obj[f.name]!, `${label}.${f.name}`);
        }
        return;
      }
    }
  }
}

/** Encodes an instance field by field, recording where each field's bytes are. */
export function encodeExample(m: MessageModel, model: SpecModel, instance: Instance = exampleInstance(m, model)): EncodedExample {
  const sw = new SpanWriter(model);
  const w = sw.w;
  if (m.framing === 'typed') {
    w.beginTyped(m.typeByte!.charCodeAt(0));
    sw.spans.push({ start: 0, end: 1, label: 'type byte', value: `'${m.typeByte}'`, kind: 'header' });
  } else {
    w.beginUntyped();
  }
  const lengthAt = w.pos - 4;
  for (const f of m.fields) {
    if (f.constant !== undefined) sw.write(f.type, f.constant, f.name, 'constant');
    else sw.write(f.type, instance[f.name]!, f.name);
  }
  w.end();
  const bytes = new Uint8Array(w.take());
  const length = Buffer.from(bytes).readInt32BE(lengthAt);
  const spans = [{ start: lengthAt, end: lengthAt + 4, label: 'length', value: `${length} (counts itself, not the type byte)`, kind: 'header' as const }, ...sw.spans].sort(
    (a, b) => a.start - b.start,
  );
  return { instance, bytes, spans, protocolVersion: exampleVersion(m, model).code };
}

/** A one-byte reply: no framing at all. */
export function encodeReplyExample(r: ReplyModel, model: SpecModel): EncodedExample {
  const code = r.byte.charCodeAt(0);
  return {
    instance: { type: r.name },
    bytes: new Uint8Array([code]),
    spans: [{ start: 0, end: 1, label: 'reply byte', value: `'${r.byte}' (answers ${r.answers})`, kind: 'header' }],
    protocolVersion: model.protocol.versions[0]!.code,
  };
}

/** The JSON-safe form of a value: byte strings as hex, value lists as lists, Int64 as a decimal string. */
export function toPlain(v: unknown): Plain {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { int64: v.toString() };
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (v instanceof ValueList) return { values: [...v].map((x) => (x === null ? null : { bytes: hex(x) })) };
  if (v instanceof Uint8Array) return { bytes: hex(v) };
  if (Array.isArray(v)) return v.map(toPlain);
  if (typeof v === 'object') {
    const out: Record<string, Plain> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toPlain(x);
    return out;
  }
  throw new Error(`no plain form for ${typeof v}`);
}

/** The instance as TypeScript source, the way a user would write it for the encoder. */
export function tsLiteral(v: Value, indent = ''): string {
  const next = indent + '  ';
  if (v === null) return 'null';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof ValueList) return `ValueList.from([${[...v].map((x) => (x === null ? 'null' : isText(x) ? JSON.stringify(Buffer.from(x).toString('utf8')) : bytesLiteral(x))).join(', ')}])`;
  if (v instanceof Uint8Array) return isText(v) && v.length > 8 ? `new TextEncoder().encode(${JSON.stringify(Buffer.from(v).toString('utf8'))})` : bytesLiteral(v);
  if (Array.isArray(v)) {
    const parts = (v as Value[]).map((x) => tsLiteral(x, next));
    const flat = `[${parts.join(', ')}]`;
    return flat.length < 60 && !flat.includes('\n') ? flat : `[\n${parts.map((p) => `${next}${p},`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, Value>);
  return `{\n${entries.map(([k, x]) => `${next}${k}: ${tsLiteral(x, next)},`).join('\n')}\n${indent}}`;
}

function isText(b: Uint8Array): boolean {
  return b.length > 0 && /^[\x20-\x7e\t\n]*$/.test(Buffer.from(b).toString('latin1'));
}

function bytesLiteral(b: Uint8Array): string {
  return `new Uint8Array([${[...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`).join(', ')}])`;
}

export interface HexRow {
  readonly offset: string;
  readonly hex: string;
  readonly label: string;
  readonly value: string;
  readonly kind: Span['kind'];
}

/** One row per field span, long spans wrapped at 16 bytes a line. */
export function hexRows(ex: EncodedExample): HexRow[] {
  const rows: HexRow[] = [];
  for (const s of ex.spans) {
    for (let p = s.start; p < s.end; p += 16) {
      const chunk = ex.bytes.subarray(p, Math.min(s.end, p + 16));
      const first = p === s.start;
      rows.push({
        offset: p.toString(16).padStart(4, '0'),
        hex: [...chunk].map((x) => x.toString(16).padStart(2, '0')).join(' '),
        label: first ? s.label : '',
        value: first ? s.value : '',
        kind: s.kind,
      });
    }
  }
  return rows;
}

