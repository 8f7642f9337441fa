/**
 * The resolved spec: every reference followed, every constant a number or string, every rule
 * checked. Emitters read only this model, never the YAML.
 */
import type { SpecFile } from './load.js';
import { SpecError, type SpecProblem } from './spec-error.js';

export type IntWire = 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'int32le' | 'uint32le';
export type CountWire = 'uint16' | 'int16' | 'int32' | 'uint32' | 'int32le';
export const INT_WIRES: readonly IntWire[] = ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'int32le', 'uint32le'];
const PRIMITIVES = [...INT_WIRES, 'byte1', 'cstring', 'bytes', 'array'] as const;

export interface Origin {
  readonly file: string;
  readonly path: string;
}

export interface EnumValue {
  readonly name: string;
  readonly value: number | string;
  readonly doc: string;
}
export interface EnumModel {
  readonly name: string;
  readonly type: 'int8' | 'int16' | 'int32' | 'byte1' | 'string';
  readonly doc: string;
  readonly values: readonly EnumValue[];
  readonly extension: string | undefined;
  readonly origin: Origin;
}

export type BytesLength = { kind: 'rest' } | { kind: 'fixed'; size: number } | { kind: 'prefixed'; prefix: 'int32' | 'int16'; nullable: boolean };

export type TypeModel =
  | { kind: 'int'; wire: IntWire; enumName?: string; strictEnum: boolean }
  | { kind: 'byte1'; enumName?: string; strictEnum: boolean }
  | { kind: 'cstring' }
  | {
      kind: 'bytes';
      length: BytesLength;
      minLength?: number;
      maxLength?: number;
      lengthByVersion?: Readonly<Record<string, { min: number; max: number }>>;
    }
  | { kind: 'array'; count?: CountWire; terminator?: { wire: 'uint8' | 'int32'; value: number }; item: TypeModel }
  | { kind: 'struct'; name: string };

export interface FieldModel {
  readonly name: string;
  readonly doc: string;
  readonly type: TypeModel;
  /** A fixed value the encoder writes and the decoder checks (discriminators, request codes). */
  readonly constant?: number;
  readonly constantRef?: string;
}

export interface StructModel {
  readonly name: string;
  readonly doc: string;
  readonly fields: readonly FieldModel[];
  readonly extension: string | undefined;
  readonly origin: Origin;
}

export type Direction = 'frontend' | 'backend';

export interface MessageModel {
  readonly name: string;
  readonly directions: readonly Direction[];
  readonly framing: 'typed' | 'startup';
  readonly typeByte?: string;
  /** The discriminating field and its constant, for messages sharing a type byte or startup framing. */
  readonly discriminator?: { field: string; value?: number; isDefault: boolean };
  readonly contextual: boolean;
  readonly since: string;
  readonly limits: Readonly<Partial<Record<Direction, { name: string; value: number }>>>;
  readonly flush: boolean;
  readonly flushesOutput: boolean;
  readonly related: readonly string[];
  readonly doc: string;
  readonly fields: readonly FieldModel[];
  readonly extension: string | undefined;
  readonly origin: Origin;
}

export interface ReplyModel {
  readonly name: string;
  readonly byte: string;
  readonly answers: string;
  readonly doc: string;
  readonly extension: string | undefined;
}

export type RuleAction = 'accept' | 'ignore' | 'reject';
export interface RuleModel {
  readonly messages: readonly string[];
  readonly to?: string;
  readonly action: RuleAction;
  readonly error?: string;
  readonly extension: string | undefined;
}
export interface StateModel {
  readonly name: string;
  readonly phase: 'startup' | 'authentication' | 'command' | 'copy' | 'closed';
  readonly speaker: 'frontend' | 'backend' | 'none';
  readonly framing: 'typed' | 'startup';
  /** The state after a direct TLS handshake, if one may start here. */
  readonly directTls: string | undefined;
  readonly refusesPlaintextBacklog: boolean;
  readonly doc: string;
  readonly recv: RuleModel[];
  readonly send: RuleModel[];
  readonly otherwise?: { error: string; to?: string };
}
export interface StateErrorModel {
  readonly name: string;
  readonly sqlstate: string;
  readonly severity: 'ERROR' | 'FATAL';
  readonly message: string;
  /** Another error sent right after this one. */
  readonly followedBy: string | undefined;
  readonly doc: string;
}
export interface StateMachineModel {
  readonly initial: string;
  readonly final: string;
  readonly violation: { sqlstate: string; severity: 'ERROR' | 'FATAL'; message: string; doc: string };
  readonly anytime: { phases: readonly string[]; send: readonly string[]; doc: string };
  readonly closing: { send: readonly string[]; doc: string };
  readonly states: readonly StateModel[];
  readonly errors: readonly StateErrorModel[];
}

export interface ExtensionModel {
  readonly name: string;
  readonly title: string;
  readonly dialect?: string;
  readonly option?: string;
  readonly doc: string;
  readonly file: string;
}

export interface ProtocolInfo {
  readonly name: string;
  readonly title: string;
  readonly doc: string;
  readonly versions: readonly { name: string; code: number; doc: string }[];
  readonly reservedVersions: readonly { name: string; code: number; doc: string }[];
  readonly majorVersion: number;
  readonly latestVersion: string;
  readonly extensionOptionPrefix: string;
  readonly legacyErrorFormat?: { belowMajor: number; typeByte: string; text: string; doc: string };
  readonly directTls?: { firstByte: number; alpn: string; doc: string };
  readonly startupTimeoutMs?: number;
  readonly cancelKey?: { doc: string; generatedLength: Readonly<Record<string, number>>; minLength: number; maxLength: number };
}

export interface DataTypeModel {
  readonly name: string;
  readonly oid: number;
  readonly size: number;
  readonly arrayOid: number | undefined;
  readonly doc: string;
}

export interface SpecModel {
  readonly protocol: ProtocolInfo;
  readonly limits: readonly { name: string; value: number; doc: string }[];
  readonly enums: readonly EnumModel[];
  readonly structs: readonly StructModel[];
  readonly messages: readonly MessageModel[];
  readonly replies: readonly ReplyModel[];
  readonly stateMachine: StateMachineModel;
  readonly extensions: readonly ExtensionModel[];
  readonly dataTypes: readonly DataTypeModel[];
  readonly files: readonly string[];
}

type Raw = Record<string, unknown>;

/** Builds and checks the model from schema-valid spec files. Throws SpecError listing every problem. */
export function buildModel(files: readonly SpecFile[]): SpecModel {
  const problems: SpecProblem[] = [];
  const at = (f: SpecFile, path: string, expected: string): void => {
    problems.push({ file: f.file, path, line: f.lineOf(path), expected });
  };

  // ---- collect sections ------------------------------------------------------------------------
  let protocolRaw: { f: SpecFile; raw: Raw } | undefined;
  let machineRaw: { f: SpecFile; raw: Raw } | undefined;
  const extensions: ExtensionModel[] = [];
  const extOf = new Map<SpecFile, string | undefined>();
  for (const f of files) {
    const ext = f.data.extension as Raw | undefined;
    if (ext) {
      const name = String(ext.name);
      if (extensions.some((e) => e.name === name)) at(f, '/extension/name', `a unique extension name; "${name}" is defined twice`);
      extensions.push({
        name,
        title: String(ext.title),
        dialect: ext.dialect as string | undefined,
        option: ext.option as string | undefined,
        doc: String(ext.doc),
        file: f.file,
      });
    }
    extOf.set(f, ext ? String(ext.name) : undefined);
    if (f.data.protocol) {
      if (protocolRaw) at(f, '/protocol', `one protocol section in the whole spec; ${protocolRaw.f.file} has one already`);
      else protocolRaw = { f, raw: f.data.protocol as Raw };
    }
    if (f.data.stateMachine) {
      if (machineRaw) at(f, '/stateMachine', `one stateMachine section in the whole spec; ${machineRaw.f.file} has one already`);
      else machineRaw = { f, raw: f.data.stateMachine as Raw };
    }
  }
  if (!protocolRaw) problems.push({ file: files[0]?.file ?? '(no spec files)', path: '', expected: 'a protocol section in one of the spec files' });
  if (!machineRaw) problems.push({ file: files[0]?.file ?? '(no spec files)', path: '', expected: 'a stateMachine section in one of the spec files' });
  if (!protocolRaw || !machineRaw) throw new SpecError(problems);

  // ---- limits ----------------------------------------------------------------------------------
  const limits = new Map<string, { name: string; value: number; doc: string }>();
  for (const f of files) {
    ((f.data.limits as Raw[] | undefined) ?? []).forEach((l, i) => {
      const name = String(l.name);
      if (limits.has(name)) at(f, `/limits/${i}/name`, `a unique limit name; "${name}" is defined twice`);
      limits.set(name, { name, value: Number(l.value), doc: String(l.doc) });
    });
  }

  // ---- enums -----------------------------------------------------------------------------------
  const enums = new Map<string, EnumModel>();
  for (const f of files) {
    ((f.data.enums as Raw[] | undefined) ?? []).forEach((e, i) => {
      const name = String(e.name);
      const prev = enums.get(name);
      if (prev) {
        at(f, `/enums/${i}/name`, `a unique enum name; "${name}" is also defined in ${prev.origin.file}`);
        return;
      }
      const type = e.type as EnumModel['type'];
      const values = (e.values as Raw[]).map((v, j) => {
        const value = v.value as number | string;
        const numeric = type !== 'byte1' && type !== 'string';
        if (numeric !== (typeof value === 'number')) at(f, `/enums/${i}/values/${j}/value`, `a ${numeric ? 'number' : 'string'} for an enum of type ${type}`);
        if (type === 'byte1' && (typeof value !== 'string' || value.length !== 1)) at(f, `/enums/${i}/values/${j}/value`, 'a single character for a byte1 enum');
        return { name: String(v.name), value, doc: String(v.doc) };
      });
      const dupe = values.find((v, j) => values.findIndex((w) => w.value === v.value || w.name === v.name) !== j);
      if (dupe) at(f, `/enums/${i}/values`, `distinct member names and values; "${dupe.name}" repeats one`);
      enums.set(name, { name, type, doc: String(e.doc), values, extension: extOf.get(f), origin: { file: f.file, path: `/enums/${i}` } });
    });
  }

  const resolveConstant = (f: SpecFile, path: string, raw: unknown): { value?: number; ref?: string } => {
    if (typeof raw === 'number') return { value: raw };
    const s = String(raw);
    const m = /^([A-Za-z][A-Za-z0-9]*)\.([A-Za-z][A-Za-z0-9]*)$/.exec(s);
    const en = m ? enums.get(m[1]!) : undefined;
    const member = en?.values.find((v) => v.name === m![2]);
    if (!m || !en || !member || typeof member.value !== 'number') {
      at(f, path, `a number or Enum.Member naming a numeric enum member; got ${JSON.stringify(raw)}`);
      return {};
    }
    return { value: member.value, ref: s };
  };

  // ---- structs (named) -------------------------------------------------------------------------
  const structs = new Map<string, StructModel>();
  const structSources: { f: SpecFile; path: string; raw: Raw; name: string; inline: boolean }[] = [];
  for (const f of files) {
    ((f.data.structs as Raw[] | undefined) ?? []).forEach((s, i) => {
      structSources.push({ f, path: `/structs/${i}`, raw: s, name: String(s.name), inline: false });
    });
  }
  // Inline structs (array items with `struct:`) are registered as they are met.
  const structNames = new Set(structSources.map((s) => s.name));
  const pendingInline: { f: SpecFile; path: string; raw: Raw; name: string }[] = [];
  const collectInline = (f: SpecFile, path: string, fields: Raw[] | undefined): void => {
    (fields ?? []).forEach((fld, k) => {
      const items = fld.items as Raw | undefined;
      if (items && typeof items.struct === 'string') {
        pendingInline.push({ f, path: `${path}/${k}/items`, raw: items, name: items.struct });
        structNames.add(items.struct);
        collectInline(f, `${path}/${k}/items/fields`, items.fields as Raw[]);
      }
    });
  };
  for (const f of files) {
    ((f.data.messages as Raw[] | undefined) ?? []).forEach((m, i) => collectInline(f, `/messages/${i}/fields`, m.fields as Raw[]));
    ((f.data.structs as Raw[] | undefined) ?? []).forEach((s, i) => collectInline(f, `/structs/${i}/fields`, s.fields as Raw[]));
  }

  const resolveType = (f: SpecFile, path: string, raw: Raw): TypeModel | undefined => {
    const t = raw.type === undefined && typeof raw.struct === 'string' ? raw.struct : String(raw.type);
    const enumName = raw.enum as string | undefined;
    if (enumName !== undefined && !enums.has(enumName)) {
      at(f, `${path}/enum`, `the name of an enum (${[...enums.keys()].join(', ')}); "${enumName}" is not defined`);
    }
    const strictEnum = raw.strictEnum === true;
    if ((INT_WIRES as readonly string[]).includes(t)) return { kind: 'int', wire: t as IntWire, enumName, strictEnum };
    switch (t) {
      case 'byte1':
        return { kind: 'byte1', enumName, strictEnum };
      case 'cstring':
        return { kind: 'cstring' };
      case 'bytes': {
        const len = raw.length;
        const length: BytesLength =
          len === 'rest'
            ? { kind: 'rest' }
            : typeof len === 'number'
              ? { kind: 'fixed', size: len }
              : { kind: 'prefixed', prefix: (len as Raw).prefix as 'int32' | 'int16', nullable: (len as Raw).nullable === true };
        return {
          kind: 'bytes',
          length,
          minLength: raw.minLength as number | undefined,
          maxLength: raw.maxLength as number | undefined,
          lengthByVersion: raw.lengthByVersion as Record<string, { min: number; max: number }> | undefined,
        };
      }
      case 'array': {
        const items = raw.items as Raw;
        const item = typeof items.struct === 'string' ? ({ kind: 'struct', name: items.struct } as const) : resolveType(f, `${path}/items`, items);
        if (!item) return undefined;
        let terminator: { wire: 'uint8' | 'int32'; value: number } | undefined;
        if (raw.terminator) {
          const term = raw.terminator as Raw;
          const c = resolveConstant(f, `${path}/terminator/value`, term.value);
          if (c.value !== undefined) terminator = { wire: term.type as 'uint8' | 'int32', value: c.value };
        }
        return { kind: 'array', count: raw.count as CountWire | undefined, terminator, item };
      }
      default:
        if (structNames.has(t)) return { kind: 'struct', name: t };
        at(f, `${path}/type`, `a wire type (${PRIMITIVES.join(', ')}) or a struct name (${[...structNames].sort().join(', ') || 'none defined'}); got "${t}"`);
        return undefined;
    }
  };

  const resolveFields = (f: SpecFile, path: string, rawFields: Raw[]): FieldModel[] => {
    const out: FieldModel[] = [];
    const seen = new Set<string>();
    rawFields.forEach((rf, k) => {
      const name = String(rf.name);
      if (seen.has(name)) at(f, `${path}/${k}/name`, `a field name unique within its message; "${name}" repeats`);
      seen.add(name);
      if (name === 'type') at(f, `${path}/${k}/name`, 'a field name other than "type", which the generated interfaces use as the discriminant');
      const type = resolveType(f, `${path}/${k}`, rf);
      if (!type) return;
      let constant: number | undefined;
      let constantRef: string | undefined;
      if (rf.value !== undefined) {
        const c = resolveConstant(f, `${path}/${k}/value`, rf.value);
        constant = c.value;
        constantRef = c.ref;
        if (type.kind !== 'int') at(f, `${path}/${k}/value`, 'a fixed value only on an integer field');
      }
      out.push({ name, doc: String(rf.doc), type, constant, constantRef });
    });
    return out;
  };

  for (const s of [...structSources, ...pendingInline.map((p) => ({ ...p, inline: true }))]) {
    const prev = structs.get(s.name);
    if (prev) {
      at(s.f, `${s.path}/${s.inline ? 'struct' : 'name'}`, `a unique struct name; "${s.name}" is also defined in ${prev.origin.file}`);
      continue;
    }
    structs.set(s.name, {
      name: s.name,
      doc: typeof s.raw.doc === 'string' ? s.raw.doc : `One element of a repeated group (${s.name}).`,
      fields: resolveFields(s.f, `${s.path}/fields`, s.raw.fields as Raw[]),
      extension: extOf.get(s.f),
      origin: { file: s.f.file, path: s.path },
    });
  }

  // ---- messages --------------------------------------------------------------------------------
  const messages: MessageModel[] = [];
  const messageByName = new Map<string, MessageModel>();
  for (const f of files) {
    ((f.data.messages as Raw[] | undefined) ?? []).forEach((m, i) => {
      const path = `/messages/${i}`;
      const name = String(m.name);
      const dirRaw = String(m.direction);
      const directions: Direction[] = dirRaw === 'both' ? ['frontend', 'backend'] : [dirRaw as Direction];
      const fields = resolveFields(f, `${path}/fields`, m.fields as Raw[]);
      const limitRaw = m.limit as string | Record<Direction, string>;
      const resolvedLimits: Partial<Record<Direction, { name: string; value: number }>> = {};
      for (const d of directions) {
        const ln = typeof limitRaw === 'string' ? limitRaw : limitRaw[d];
        const l = limits.get(ln);
        if (!l) at(f, `${path}/limit`, `a limit name (${[...limits.keys()].join(', ')}); "${ln}" is not defined`);
        else resolvedLimits[d] = { name: l.name, value: l.value };
      }
      let discriminator: MessageModel['discriminator'];
      if (m.discriminator) {
        const d = m.discriminator as Raw;
        const field = fields.find((x) => x.name === d.field);
        if (!field) at(f, `${path}/discriminator/field`, `the name of one of the message's fields; "${String(d.field)}" is not one`);
        else if (d.default !== true && field.constant === undefined) at(f, `${path}/discriminator/field`, `a field with a fixed value; "${field.name}" has none`);
        discriminator = { field: String(d.field), value: field?.constant, isDefault: d.default === true };
      }
      const model: MessageModel = {
        name,
        directions,
        framing: (m.framing as 'typed' | 'startup' | undefined) ?? 'typed',
        typeByte: m.typeByte as string | undefined,
        discriminator,
        contextual: m.contextual === true,
        since: String(m.since),
        limits: resolvedLimits,
        flush: m.flush === true,
        flushesOutput: m.flushesOutput === true,
        related: (m.related as string[] | undefined) ?? [],
        doc: String(m.doc),
        fields,
        extension: extOf.get(f),
        origin: { file: f.file, path },
      };
      const prev = messageByName.get(name);
      if (prev) at(f, `${path}/name`, `a unique message name; "${name}" is also defined in ${prev.origin.file}`);
      else {
        messageByName.set(name, model);
        messages.push(model);
      }
    });
  }
  const fileOf = new Map(files.map((f) => [f.file, f]));
  const atOrigin = (o: Origin, sub: string, expected: string): void => at(fileOf.get(o.file)!, o.path + sub, expected);

  // Type bytes: one message per (direction, byte) unless every sharer is told apart.
  for (const dir of ['frontend', 'backend'] as const) {
    const groups = new Map<string, MessageModel[]>();
    for (const m of messages) {
      if (!m.directions.includes(dir)) continue;
      const key = m.framing === 'startup' ? '(startup)' : m.typeByte!;
      groups.set(key, [...(groups.get(key) ?? []), m]);
    }
    for (const [key, group] of groups) {
      if (group.length < 2) continue;
      const allContextual = group.every((g) => g.contextual);
      const allDiscriminated = group.every((g) => g.discriminator !== undefined);
      // Discriminators must sit at the same place with the same wire type: the first field.
      const discAtStart = group.every((g) => g.discriminator && g.fields[0]?.name === g.discriminator.field && JSON.stringify(g.fields[0]?.type) === JSON.stringify(group[0]!.fields[0]?.type));
      const values = group.map((g) => g.discriminator?.value).filter((v) => v !== undefined);
      const defaults = group.filter((g) => g.discriminator?.isDefault);
      const distinct = new Set(values).size === values.length;
      if (allContextual) continue;
      if (allDiscriminated && distinct && defaults.length <= 1 && discAtStart) continue;
      const clash = group[1]!;
      const first = group[0]!;
      atOrigin(
        clash.origin,
        clash.framing === 'startup' ? '/discriminator' : '/typeByte',
        `a ${dir} type byte not used by another ${dir} message: ${key} is also ${first.name} (${first.origin.file}); messages sharing a byte need distinct discriminator values, or must all be contextual`,
      );
    }
  }

  // ---- replies ---------------------------------------------------------------------------------
  const replies: ReplyModel[] = [];
  for (const f of files) {
    ((f.data.replies as Raw[] | undefined) ?? []).forEach((r, i) => {
      const answers = String(r.answers);
      if (!messageByName.has(answers)) at(f, `/replies/${i}/answers`, `the name of the request message it answers; "${answers}" is not a message`);
      if (messageByName.has(String(r.name)) || replies.some((x) => x.name === r.name)) at(f, `/replies/${i}/name`, `a name not used by another message or reply; "${String(r.name)}" is taken`);
      replies.push({ name: String(r.name), byte: String(r.byte), answers, doc: String(r.doc), extension: extOf.get(f) });
    });
  }

  for (const m of messages) {
    for (const r of m.related) {
      if (!messageByName.has(r) && !replies.some((x) => x.name === r)) atOrigin(m.origin, '/related', `names of defined messages or replies; "${r}" is not one`);
    }
  }

  // ---- state machine ---------------------------------------------------------------------------
  const sm = machineRaw.raw;
  const smFile = machineRaw.f;
  const stateNames = new Set(((sm.states as Raw[]) ?? []).map((s) => String(s.name)));
  const errorNames = new Set(((sm.errors as Raw[] | undefined) ?? []).map((e) => String(e.name)));
  const sendable = new Set([...messages.filter((m) => m.directions.includes('backend')).map((m) => m.name), ...replies.map((r) => r.name)]);
  const receivable = new Set(messages.filter((m) => m.directions.includes('frontend')).map((m) => m.name));
  const checkState = (f: SpecFile, path: string, name: string | undefined): void => {
    if (name !== undefined && !stateNames.has(name)) at(f, path, `the name of a state (${[...stateNames].join(', ')}); "${name}" does not exist`);
  };
  const resolveRules = (f: SpecFile, path: string, raw: Raw[] | undefined, dir: 'recv' | 'send', ext: string | undefined): RuleModel[] =>
    (raw ?? []).map((r, k) => {
      const msgs = (r.messages as string[]).map(String);
      msgs.forEach((mn, j) => {
        const ok = dir === 'recv' ? receivable.has(mn) : sendable.has(mn);
        if (!ok) at(f, `${path}/${k}/messages/${j}`, `a ${dir === 'recv' ? 'frontend' : 'backend'} message name; "${mn}" is not one`);
      });
      checkState(f, `${path}/${k}/to`, r.to as string | undefined);
      if (r.error !== undefined && !errorNames.has(String(r.error))) at(f, `${path}/${k}/error`, `the name of an entry in stateMachine.errors; "${String(r.error)}" is not one`);
      return { messages: msgs, to: r.to as string | undefined, action: (r.action as RuleAction | undefined) ?? 'accept', error: r.error as string | undefined, extension: ext };
    });
  const states: StateModel[] = ((sm.states as Raw[]) ?? []).map((s, i) => {
    const path = `/stateMachine/states/${i}`;
    const other = s.otherwise as Raw | undefined;
    checkState(smFile, `${path}/directTls/to`, (s.directTls as Raw | undefined)?.to as string | undefined);
    if (other) {
      checkState(smFile, `${path}/otherwise/to`, other.to as string | undefined);
      if (!errorNames.has(String(other.error))) at(smFile, `${path}/otherwise/error`, `the name of an entry in stateMachine.errors; "${String(other.error)}" is not one`);
    }
    return {
      name: String(s.name),
      phase: s.phase as StateModel['phase'],
      speaker: s.speaker as StateModel['speaker'],
      framing: (s.framing as 'typed' | 'startup' | undefined) ?? 'typed',
      directTls: (s.directTls as Raw | undefined)?.to as string | undefined,
      refusesPlaintextBacklog: s.refusesPlaintextBacklog === true,
      doc: String(s.doc),
      recv: resolveRules(smFile, `${path}/recv`, s.recv as Raw[] | undefined, 'recv', undefined),
      send: resolveRules(smFile, `${path}/send`, s.send as Raw[] | undefined, 'send', undefined),
      otherwise: other ? { error: String(other.error), to: other.to as string | undefined } : undefined,
    };
  });
  const dupState = states.find((s, i) => states.findIndex((t) => t.name === s.name) !== i);
  if (dupState) at(smFile, '/stateMachine/states', `unique state names; "${dupState.name}" repeats`);
  ((sm.errors as Raw[] | undefined) ?? []).forEach((e, i) => {
    if (e.followedBy !== undefined && !errorNames.has(String(e.followedBy))) {
      at(smFile, `/stateMachine/errors/${i}/followedBy`, `the name of an entry in stateMachine.errors; "${String(e.followedBy)}" is not one`);
    }
  });
  checkState(smFile, '/stateMachine/initial', String(sm.initial));
  checkState(smFile, '/stateMachine/final', String(sm.final));
  const anytime = (sm.anytime as Raw | undefined) ?? { phases: [], send: [], doc: 'None.' };
  const closing = (sm.closing as Raw | undefined) ?? { send: [], doc: 'None.' };
  for (const [k, mn] of (anytime.send as string[]).entries()) if (!sendable.has(mn)) at(smFile, `/stateMachine/anytime/send/${k}`, `a backend message name; "${mn}" is not one`);
  for (const [k, mn] of (closing.send as string[]).entries()) if (!sendable.has(mn)) at(smFile, `/stateMachine/closing/send/${k}`, `a backend message name; "${mn}" is not one`);

  // Extension state rules merge into the states they name.
  for (const f of files) {
    ((f.data.stateRules as Raw[] | undefined) ?? []).forEach((r, i) => {
      const path = `/stateRules/${i}`;
      const recv = resolveRules(f, `${path}/recv`, r.recv as Raw[] | undefined, 'recv', extOf.get(f));
      const send = resolveRules(f, `${path}/send`, r.send as Raw[] | undefined, 'send', extOf.get(f));
      (r.states as string[]).forEach((sn, j) => {
        const st = states.find((s) => s.name === sn);
        if (!st) {
          checkState(f, `${path}/states/${j}`, sn);
          return;
        }
        st.recv.push(...recv);
        st.send.push(...send);
      });
    });
  }

  // A state may accept at most one of the messages that share a contextual type byte.
  for (const st of states) {
    const seen = new Map<string, string>();
    for (const rule of st.recv) {
      for (const mn of rule.messages) {
        const m = messageByName.get(mn);
        if (!m?.contextual) continue;
        const prev = seen.get(m.typeByte!);
        if (prev && prev !== mn) at(smFile, `/stateMachine/states/${states.indexOf(st)}/recv`, `at most one contextual message per type byte in a state; ${prev} and ${mn} share '${m.typeByte}'`);
        seen.set(m.typeByte!, mn);
      }
    }
  }

  const p = protocolRaw.raw;
  const transport = (p.transport as Raw | undefined) ?? {};
  const protocol: ProtocolInfo = {
    name: String(p.name),
    title: String(p.title),
    doc: String(p.doc),
    versions: (p.versions as Raw[]).map((v) => ({ name: String(v.name), code: Number(v.code), doc: String(v.doc) })),
    reservedVersions: ((p.reservedVersions as Raw[] | undefined) ?? []).map((v) => ({ name: String(v.name), code: Number(v.code), doc: String(v.doc) })),
    majorVersion: Number(p.majorVersion),
    latestVersion: String(p.latestVersion),
    extensionOptionPrefix: String(p.extensionOptionPrefix ?? '_pq_.'),
    legacyErrorFormat: p.legacyErrorFormat as ProtocolInfo['legacyErrorFormat'],
    directTls: transport.directTls as ProtocolInfo['directTls'],
    startupTimeoutMs: transport.startupTimeoutMs as number | undefined,
    cancelKey: p.cancelKey as ProtocolInfo['cancelKey'],
  };
  if (!protocol.versions.some((v) => v.name === protocol.latestVersion)) {
    at(protocolRaw.f, '/protocol/latestVersion', `one of the listed versions (${protocol.versions.map((v) => v.name).join(', ')})`);
  }
  for (const m of messages) {
    if (!protocol.versions.some((v) => v.name === m.since)) atOrigin(m.origin, '/since', `one of the protocol versions (${protocol.versions.map((v) => v.name).join(', ')}); got "${m.since}"`);
  }

  const dataTypes: DataTypeModel[] = [];
  for (const f of files) {
    ((f.data.dataTypes as Raw[] | undefined) ?? []).forEach((d, i) => {
      const clash = dataTypes.find((x) => x.name === d.name || x.oid === d.oid);
      if (clash) at(f, `/dataTypes/${i}`, `a data type name and OID not used before; ${clash.name} (${clash.oid}) has one of them`);
      dataTypes.push({ name: String(d.name), oid: Number(d.oid), size: Number(d.size), arrayOid: d.arrayOid as number | undefined, doc: String(d.doc) });
    });
  }

  if (problems.length > 0) throw new SpecError(problems);
  return {
    dataTypes,
    protocol,
    limits: [...limits.values()],
    enums: [...enums.values()],
    structs: [...structs.values()],
    messages,
    replies,
    stateMachine: {
      initial: String(sm.initial),
      final: String(sm.final),
      violation: sm.violation as StateMachineModel['violation'],
      anytime: { phases: anytime.phases as string[], send: anytime.send as string[], doc: String(anytime.doc) },
      closing: { send: closing.send as string[], doc: String(closing.doc) },
      states,
      errors: ((sm.errors as Raw[] | undefined) ?? []).map((e) => ({
        name: String(e.name),
        sqlstate: String(e.sqlstate),
        severity: e.severity as 'ERROR' | 'FATAL',
        message: String(e.message),
        followedBy: e.followedBy as string | undefined,
        doc: String(e.doc),
      })),
    },
    extensions,
    files: files.map((f) => f.file),
  };
}
