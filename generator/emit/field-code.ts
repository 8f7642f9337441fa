/**
 * Type-directed code for one field: its TypeScript type, the smallest number of bytes it can
 * take (to check counts against what remains), and the statements that encode and decode it.
 */
import type { FieldModel, SpecModel, TypeModel } from '../model.js';

export interface CodeContext {
  readonly model: SpecModel;
  /** Name used in error messages: the message or struct being coded. */
  readonly owner: string;
}

const INT_SIZE: Record<string, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int32le: 4, uint32le: 4, int64: 8 };
const COUNT_MAX: Record<string, number> = { uint16: 0xffff, int16: 0x7fff, int32: 0x7fffffff, uint32: 0xffffffff, int32le: 0x7fffffff };

export function isValueList(t: TypeModel): boolean {
  return t.kind === 'array' && t.count !== undefined && t.item.kind === 'bytes' && t.item.length.kind === 'prefixed' && t.item.length.prefix === 'int32' && t.item.length.nullable;
}

export function tsType(t: TypeModel, model: SpecModel): string {
  switch (t.kind) {
    case 'int':
      if (t.wire === 'int64') return 'bigint';
      return t.enumName ? (t.strictEnum ? t.enumName : `${t.enumName} | (number & {})`) : 'number';
    case 'byte1':
      return t.enumName ? (t.strictEnum ? t.enumName : `${t.enumName} | (string & {})`) : 'string';
    case 'cstring':
      return 'string';
    case 'bytes':
      return t.length.kind === 'prefixed' && t.length.nullable ? 'Uint8Array | null' : 'Uint8Array';
    case 'array': {
      if (isValueList(t)) return 'ValueList';
      const inner = tsType(t.item, model);
      return inner.includes('|') ? `readonly (${inner})[]` : `readonly ${inner}[]`;
    }
    case 'struct':
      return t.name;
  }
}

export function minSize(t: TypeModel, model: SpecModel): number {
  switch (t.kind) {
    case 'int':
      return INT_SIZE[t.wire]!;
    case 'byte1':
    case 'cstring':
      return 1;
    case 'bytes':
      return t.length.kind === 'rest' ? 0 : t.length.kind === 'fixed' ? t.length.size : t.length.prefix === 'int32' ? 4 : 2;
    case 'array':
      return t.count ? INT_SIZE[t.count]! : INT_SIZE[t.terminator!.wire]!;
    case 'struct': {
      const s = model.structs.find((x) => x.name === t.name)!;
      return s.fields.reduce((n, f) => n + minSize(f.type, model), 0);
    }
  }
}

const q = (s: string): string => JSON.stringify(s);

/** Statements that decode a value of type `t` into `target` (an assignable expression). */
export function decodeStatements(t: TypeModel, target: string, what: string, cx: CodeContext, depth = 0): string[] {
  switch (t.kind) {
    case 'int':
    case 'byte1': {
      const read = t.kind === 'int' ? `r.${t.wire}(${q(what)})` : `r.byte1(${q(what)})`;
      if (!(t.enumName && t.strictEnum)) return [`${target} = ${read};`];
      const tmp = `${local(target)}Raw`;
      return [
        `const ${tmp} = ${read};`,
        `if (!is${t.enumName}(${tmp})) r.fail('invalid-value', ${q(what)} + ' has value ' + JSON.stringify(${tmp}) + ', which is not a known ${t.enumName}');`,
        `${target} = ${tmp};`,
      ];
    }
    case 'cstring':
      return [`${target} = r.cstring(${q(what)});`];
    case 'bytes':
      return decodeBytes(t, target, what, cx);
    case 'array':
      return decodeArray(t, target, what, cx, depth);
    case 'struct':
      return [`${target} = decode${t.name}(r, ctx);`];
  }
}

function decodeBytes(t: Extract<TypeModel, { kind: 'bytes' }>, target: string, what: string, cx: CodeContext): string[] {
  const out: string[] = [];
  switch (t.length.kind) {
    case 'rest':
      out.push(`${target} = r.rest();`);
      break;
    case 'fixed':
      out.push(`${target} = r.bytes(${t.length.size}, ${q(what)});`);
      break;
    case 'prefixed': {
      const n = `${local(target)}Len`;
      out.push(`const ${n} = r.${t.length.prefix}(${q(what + ' length')});`);
      if (t.length.nullable) {
        out.push(`if (${n} < -1) r.fail('negative-length', ${q(what)} + ' has length ' + ${n} + '; -1 (NULL) is the only negative length allowed');`);
        out.push(`${target} = ${n} === -1 ? null : r.bytes(${n}, ${q(what)});`);
      } else {
        out.push(`${target} = r.bytes(${n}, ${q(what)});`);
      }
      break;
    }
  }
  if (t.minLength !== undefined || t.maxLength !== undefined) {
    out.push(`r.checkLength(${target}${t.length.kind === 'prefixed' && t.length.nullable ? '?' : ''}.length ?? 0, ${t.minLength ?? 0}, ${t.maxLength ?? 0x7fffffff}, ${q(what)});`);
  }
  if (t.lengthByVersion) {
    const byCode = Object.entries(t.lengthByVersion)
      .map(([name, lim]) => ({ code: versionCode(cx, name), lim }))
      .sort((a, b) => b.code - a.code);
    const branches = byCode.map(({ code, lim }, i) =>
      i === byCode.length - 1
        ? `r.checkLength(${target}.length, ${lim.min}, ${lim.max}, ${q(what)});`
        : `if (ctx.protocolVersion >= ${code}) r.checkLength(${target}.length, ${lim.min}, ${lim.max}, ${q(what)});\nelse `,
    );
    out.push(branches.join(''));
  }
  return out;
}

function versionCode(cx: CodeContext, name: string): number {
  const v = cx.model.protocol.versions.find((x) => x.name === name);
  if (!v) throw new Error(`unknown protocol version ${name}`);
  return v.code;
}

function decodeArray(t: Extract<TypeModel, { kind: 'array' }>, target: string, what: string, cx: CodeContext, depth: number): string[] {
  const base = local(target);
  const i = `${base}I${depth}`;
  const n = `${base}Count`;
  const a = `${base}Items`;
  if (isValueList(t)) {
    return [`const ${n} = r.${t.count}(${q(what + ' count')});`, `${target} = r.valueList(${n}, ${q(what)});`];
  }
  const item = `${a}[${i}]`;
  const itemType = tsType(t.item, cx.model);
  if (t.count) {
    return [
      `const ${n} = r.${t.count}(${q(what + ' count')});`,
      `r.checkCount(${n}, ${minSize(t.item, cx.model)}, ${q(what)});`,
      `const ${a}: (${itemType})[] = new Array(${n});`,
      `for (let ${i} = 0; ${i} < ${n}; ${i}++) {`,
      ...decodeStatements(t.item, item, what, cx, depth + 1).map((s) => '  ' + s),
      `}`,
      `${target} = ${a};`,
    ];
  }
  const term = t.terminator!;
  const peek = term.wire === 'uint8' ? `r.peekUint8() === ${term.value}` : `r.peekInt32() === ${term.value}`;
  return [
    `const ${a}: (${itemType})[] = [];`,
    `for (;;) {`,
    `  if (${peek}) {`,
    `    r.pos += ${term.wire === 'uint8' ? 1 : 4};`,
    `    break;`,
    `  }`,
    `  let ${i}: ${itemType};`,
    ...decodeStatements(t.item, i, what, cx, depth + 1).map((s) => '  ' + s.replace(/^const /, 'const ')),
    `  ${a}.push(${i});`,
    `}`,
    `${target} = ${a};`,
  ];
}

/** A local variable name derived from an assignment target. */
export function local(target: string): string {
  const s = target.replace(/[^A-Za-z0-9]+/g, '_').replace(/_+$/, '');
  return RESERVED.has(s) ? `${s}Value` : s;
}

const RESERVED = new Set(['arguments', 'eval', 'default', 'function', 'class', 'new', 'delete', 'in', 'of', 'var', 'let', 'const', 'return', 'switch', 'case', 'this', 'void', 'with', 'yield', 'await']);

/** Statements that encode `value` (an expression) of type `t`. */
export function encodeStatements(t: TypeModel, value: string, field: string, cx: CodeContext, depth = 0): string[] {
  const owner = q(cx.owner);
  switch (t.kind) {
    case 'int':
      if (t.wire === 'int64') return [`w.int64(${value});`];
      return [`w.${t.wire}(${value});`];
    case 'byte1':
      return [`w.byte1(${value}, ${owner}, ${q(field)});`];
    case 'cstring':
      return [`w.cstring(${value});`];
    case 'bytes':
      switch (t.length.kind) {
        case 'rest':
          return [...lengthGuard(t, value, field, cx), `w.bytes(${value});`];
        case 'fixed':
          return [
            `if (${value}.length !== ${t.length.size}) throw new ProtocolEncodeError(${owner}, ${q(field)}, 'expected ${t.length.size} bytes, got ' + ${value}.length);`,
            `w.bytes(${value});`,
          ];
        case 'prefixed': {
          const v = `v${depth}`;
          const lines = [`const ${v} = ${value};`];
          if (t.length.nullable) {
            lines.push(`if (${v} === null) w.${t.length.prefix}(-1);`, `else {`, `  w.${t.length.prefix}(${v}.length);`, `  w.bytes(${v});`, `}`);
          } else {
            lines.push(`w.${t.length.prefix}(${v}.length);`, `w.bytes(${v});`);
          }
          return lines;
        }
      }
      break;
    case 'array': {
      if (isValueList(t)) {
        return [
          `if (${value}.length > ${COUNT_MAX[t.count!]}) throw new ProtocolEncodeError(${owner}, ${q(field)}, 'at most ${COUNT_MAX[t.count!]} values, got ' + ${value}.length);`,
          `w.${t.count}(${value}.length);`,
          `w.bytes(${value}.wireBytes);`,
        ];
      }
      const it = `it${depth}`;
      const lines: string[] = [];
      if (t.count) {
        lines.push(
          `if (${value}.length > ${COUNT_MAX[t.count]}) throw new ProtocolEncodeError(${owner}, ${q(field)}, 'at most ${COUNT_MAX[t.count]} items, got ' + ${value}.length);`,
          `w.${t.count}(${value}.length);`,
        );
      }
      lines.push(`for (const ${it} of ${value}) {`);
      if (t.terminator) lines.push(...terminatorGuard(t.item, it, t.terminator, field, cx).map((s) => '  ' + s));
      lines.push(...encodeStatements(t.item, it, field, cx, depth + 1).map((s) => '  ' + s), `}`);
      if (t.terminator) lines.push(`w.${t.terminator.wire === 'uint8' ? 'uint8' : 'int32'}(${t.terminator.value});`);
      return lines;
    }
    case 'struct':
      return [`encode${t.name}(w, ${value});`];
  }
  return [];
}

/** Refuses a value whose length the spec bounds (keys): the encoder must not write what no decoder accepts. */
function lengthGuard(t: Extract<TypeModel, { kind: 'bytes' }>, value: string, field: string, cx: CodeContext): string[] {
  let min = t.minLength;
  let max = t.maxLength;
  for (const lim of Object.values(t.lengthByVersion ?? {})) {
    min = Math.min(min ?? lim.min, lim.min);
    max = Math.max(max ?? lim.max, lim.max);
  }
  if (min === undefined && max === undefined) return [];
  const lo = min ?? 0;
  const hi = max ?? 0x7fffffff;
  return [`if (${value}.length < ${lo} || ${value}.length > ${hi}) throw new ProtocolEncodeError(${q(cx.owner)}, ${q(field)}, 'length must be ${lo} to ${hi}, got ' + ${value}.length);`];
}

/** An element of a terminated list must not begin the way the terminator does. */
function terminatorGuard(item: TypeModel, it: string, term: { wire: 'uint8' | 'int32'; value: number }, field: string, cx: CodeContext): string[] {
  const fail = (why: string): string => `throw new ProtocolEncodeError(${q(cx.owner)}, ${q(field)}, ${q(why)});`;
  let first: TypeModel | undefined = item;
  let access = it;
  if (item.kind === 'struct') {
    const f = cx.model.structs.find((s) => s.name === item.name)!.fields[0];
    first = f?.type;
    access = `${it}.${f?.name}`;
  }
  if (!first) return [];
  if (term.wire === 'uint8' && term.value === 0) {
    if (first.kind === 'cstring') return [`if (${access} === '') ${fail('an empty string would end the list')}`];
    if (first.kind === 'byte1') return [`if (${access} === '\\0') ${fail('a zero byte would end the list')}`];
  }
  if (term.wire === 'int32' && first.kind === 'int') return [`if (${access} === ${term.value}) ${fail(`the value ${term.value} would end the list`)}`];
  return [];
}

/** The fields a generated interface carries: every field but the fixed-value ones. */
export function interfaceFields(fields: readonly FieldModel[]): FieldModel[] {
  return fields.filter((f) => f.constant === undefined);
}

/** Enum names a type refers to (for imports). */
export function enumsUsed(t: TypeModel, model: SpecModel, out = new Set<string>()): Set<string> {
  if ((t.kind === 'int' || t.kind === 'byte1') && t.enumName) out.add(t.enumName);
  if (t.kind === 'array') enumsUsed(t.item, model, out);
  if (t.kind === 'struct') for (const f of model.structs.find((s) => s.name === t.name)!.fields) enumsUsed(f.type, model, out);
  return out;
}
