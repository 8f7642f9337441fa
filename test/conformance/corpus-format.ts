/**
 * The conformance corpus: scripted conversations with a PostgreSQL server, one YAML file per area
 * under corpus/. This module holds the format's types, loads the files, and turns the JSON shape
 * of a message into the generated message types and back. See README.md for the format.
 */
import { Buffer } from 'node:buffer';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, type Document } from 'yaml';
import { PROTOCOL_VERSIONS, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import { ValueList } from '../../runtime/wire/index.js';

export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'corpus');
/** Allowances that hold for every conversation (version-wide differences), by target tag. */
export const COMMON_ALLOWANCES_FILE = join(dirname(fileURLToPath(import.meta.url)), 'allowances.yaml');

export function loadCommonAllowances(path = COMMON_ALLOWANCES_FILE): Readonly<Record<string, readonly Allowance[]>> {
  const doc = parseDocument(readFileSync(path, 'utf8'));
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
  const root = doc.toJS() as { differs?: Record<string, Allowance[]> };
  for (const [tag, list] of Object.entries(root.differs ?? {})) {
    for (const a of list) if (typeof a.reason !== 'string' || a.reason === '') throw new Error(`${path}: an allowance for ${tag} gives no reason`);
  }
  return root.differs ?? {};
}

/** A plain JSON value, as YAML gives it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** How a session connects before its steps run. */
export interface StartupSpec {
  readonly user: string;
  readonly password?: string;
  /** Protocol version: "3.0" (default), "3.2", or a full version code. */
  readonly protocol?: string | number;
  /** Negotiate TLS with an SSLRequest first. */
  readonly tls?: boolean;
  /** Further StartupMessage parameters (database defaults to "postgres"). */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Record what the server sends during startup as `expect` (otherwise only ReadyForQuery is checked). */
  readonly record?: boolean;
  /** Recorded: the startup messages from the server, normalized. */
  readonly expect?: readonly JsonObject[];
}

/** What a step reads after sending. */
export type Until =
  | string // a backend message type, "close", "none" (read nothing) or "quiet" (whatever arrives in 300 ms)
  | { readonly type: string; readonly count: number };

export interface Step {
  /** The session that sends and reads; default "main". */
  readonly session?: string;
  /** Milliseconds to wait before sending (only where a race with the server is the point: cancel). */
  readonly wait?: number;
  /** Messages in the generated types' JSON shape, or `{raw: "hex"}` for bytes sent as they are. */
  readonly send?: readonly JsonObject[];
  readonly until: Until;
  /** Recorded: what the server sent, normalized. */
  readonly expect?: readonly JsonObject[];
}

/** Per-target allowance: how a target may legitimately differ from the PostgreSQL 15 recording. */
export interface Allowance {
  /** Why; required, so an allowance always says what it forgives. */
  readonly reason: string;
  /** Received messages matching any pattern are dropped before comparison. */
  readonly ignore?: readonly JsonObject[];
  /** Expected messages matching `match` get `set` merged in (fields of ErrorResponse under `fields`). */
  readonly patch?: readonly { readonly match: JsonObject; readonly set: JsonObject }[];
  /** Replaces a step's expected messages, by step index (0-based; "startup" for the startup). */
  readonly expect?: Readonly<Record<string, readonly JsonObject[]>>;
}

export interface Conversation {
  readonly name: string;
  readonly doc?: string;
  /** The main session's startup, or "none" when the steps send the startup packets themselves. */
  readonly startup: StartupSpec | 'none';
  /** Further sessions, connected on first use (same shape as `startup`). */
  readonly sessions?: Readonly<Record<string, StartupSpec | 'none'>>;
  readonly steps: readonly Step[];
  /** Allowed differences, by target tag ("pg18", "pgspec"). */
  readonly differs?: Readonly<Record<string, Allowance>>;
  /** Targets (by tag) that cannot run this conversation, with the reason. */
  readonly unsupported?: Readonly<Record<string, string>>;
}

export interface CorpusFile {
  readonly area: string;
  readonly path: string;
  readonly document: Document;
  readonly conversations: readonly Conversation[];
  /** Values looked up on the recording server (`$fn:int4pl` → its OID). */
  readonly resolved: Readonly<Record<string, number>>;
}

export function loadCorpus(dir = CORPUS_DIR): CorpusFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => loadCorpusFile(join(dir, f)));
}

export function loadCorpusFile(path: string): CorpusFile {
  const document = parseDocument(readFileSync(path, 'utf8'), { uniqueKeys: true });
  if (document.errors.length > 0) throw new Error(`${path}: ${document.errors[0]!.message}`);
  const root = document.toJS({ maxAliasCount: -1 }) as { area?: string; resolved?: Record<string, number>; conversations?: Conversation[] };
  if (!Array.isArray(root.conversations)) throw new Error(`${path}: no conversations list`);
  const names = new Set<string>();
  for (const c of root.conversations) {
    if (typeof c.name !== 'string' || c.name === '') throw new Error(`${path}: a conversation without a name`);
    if (names.has(c.name)) throw new Error(`${path}: conversation "${c.name}" is listed twice`);
    names.add(c.name);
    if (!Array.isArray(c.steps)) throw new Error(`${path}: "${c.name}" has no steps`);
    for (const step of c.steps) for (const m of step.send ?? []) checkKeys(m, `${path}: "${c.name}"`);
    for (const [tag, a] of Object.entries(c.differs ?? {})) {
      if (typeof a.reason !== 'string' || a.reason === '') throw new Error(`${path}: "${c.name}" differs.${tag} gives no reason`);
    }
  }
  return { area: root.area ?? path, path, document, conversations: root.conversations, resolved: root.resolved ?? {} };
}

/** The fields each frontend message may give in a corpus, so a YAML slip (an unquoted comma) is caught. */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  Query: ['query'],
  Parse: ['statement', 'query', 'parameterTypes'],
  Bind: ['portal', 'statement', 'parameterFormats', 'parameters', 'resultFormats'],
  Describe: ['target', 'name'],
  Close: ['target', 'name'],
  Execute: ['portal', 'maxRows'],
  Sync: [],
  Flush: [],
  Terminate: [],
  CopyDone: [],
  SSLRequest: [],
  GSSENCRequest: [],
  CopyData: ['data'],
  CopyFail: ['message'],
  FunctionCall: ['functionOid', 'argumentFormats', 'arguments', 'resultFormat'],
  PasswordMessage: ['password'],
  SASLInitialResponse: ['mechanism', 'data'],
  SASLResponse: ['data'],
  GSSResponse: ['data'],
  StartupMessage: ['protocolVersion', 'parameters'],
  CancelRequest: ['processId', 'secretKey'],
};

function checkKeys(m: JsonObject, where: string): void {
  if (typeof m.raw === 'string' && Object.keys(m).length === 1) return;
  const allowed = FIELDS[String(m.type)];
  if (allowed === undefined) throw new Error(`${where}: unknown message ${JSON.stringify(m)}`);
  for (const k of Object.keys(m)) {
    if (k !== 'type' && !allowed.includes(k)) throw new Error(`${where}: ${String(m.type)} has no field "${k}" (${JSON.stringify(m)})`);
  }
}

// ---- bytes in JSON ------------------------------------------------------------------------------

/** Text that survives a round trip through YAML and reads as text; anything else is shown as hex. */
const PRINTABLE = /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/u;

export function bytesToJson(bytes: Uint8Array): Json {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = b.toString('utf8');
  if (Buffer.byteLength(text) === b.length && !text.includes('\ufffd') && PRINTABLE.test(text)) return text;
  return { hex: b.toString('hex') };
}

export function jsonToBytes(v: Json | undefined, what: string): Uint8Array {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.hex === 'string') return Buffer.from(v.hex.replace(/\s+/g, ''), 'hex');
  throw new Error(`${what}: expected a string or {hex}, got ${JSON.stringify(v)}`);
}

function values(v: Json | undefined, what: string): ValueList {
  if (v === undefined) return ValueList.from([]);
  if (!Array.isArray(v)) throw new Error(`${what}: expected a list of values`);
  return ValueList.from(v.map((x) => (x === null ? null : jsonToBytes(x, what))));
}

// ---- frontend messages from JSON ---------------------------------------------------------------

/** Placeholders a conversation can use for values only known while it runs. */
export interface Bindings {
  /** `$<session>.pid` and `$<session>.key`: what that session's BackendKeyData said. */
  readonly keys: ReadonlyMap<string, { processId: number; secretKey: Uint8Array }>;
  /** `$fn:<name>`: looked up at record time. */
  readonly resolved: Readonly<Record<string, number>>;
}

export function protocolCode(v: string | number | undefined): number {
  if (v === undefined) return PROTOCOL_VERSIONS[0].code;
  if (typeof v === 'number') return v;
  const m = /^(\d+)\.(\d+)$/.exec(v);
  if (m === null) throw new Error(`bad protocol version "${v}"`);
  return (Number(m[1]) << 16) | Number(m[2]);
}

function num(v: Json | undefined, fallback: number, b: Bindings, what: string): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const key = /^\$(\w+)\.pid$/.exec(v);
    if (key) return keyOf(b, key[1]!, v).processId;
    const fn = /^\$fn:(\w+)$/.exec(v);
    if (fn) {
      const oid = b.resolved[fn[1]!];
      if (oid === undefined) throw new Error(`${what}: ${v} was not resolved (re-record)`);
      return oid;
    }
  }
  throw new Error(`${what}: expected a number, got ${JSON.stringify(v)}`);
}

function keyOf(b: Bindings, session: string, ref: string): { processId: number; secretKey: Uint8Array } {
  const k = b.keys.get(session);
  if (k === undefined) throw new Error(`${ref}: session "${session}" has no BackendKeyData yet`);
  return k;
}

const str = (v: Json | undefined, fallback = ''): string => (v === undefined ? fallback : String(v));
const list = <T>(v: Json | undefined): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** One item of a step's `send`: a message, or raw bytes. */
export type Outgoing = { readonly kind: 'message'; readonly message: FrontendMessage } | { readonly kind: 'raw'; readonly bytes: Uint8Array };

export function toOutgoing(j: JsonObject, b: Bindings): Outgoing {
  if (typeof j.raw === 'string') return { kind: 'raw', bytes: Buffer.from(j.raw.replace(/\s+/g, ''), 'hex') };
  const type = j.type;
  const what = String(type);
  const m = ((): FrontendMessage => {
    switch (type) {
      case 'Query':
        return { type, query: str(j.query) };
      case 'Parse':
        return { type, statement: str(j.statement), query: str(j.query), parameterTypes: list<number>(j.parameterTypes) };
      case 'Bind':
        return {
          type,
          portal: str(j.portal),
          statement: str(j.statement),
          parameterFormats: list<number>(j.parameterFormats),
          parameters: values(j.parameters, what),
          resultFormats: list<number>(j.resultFormats),
        };
      case 'Describe':
      case 'Close':
        return { type, target: str(j.target, 'S'), name: str(j.name) };
      case 'Execute':
        return { type, portal: str(j.portal), maxRows: num(j.maxRows, 0, b, what) };
      case 'Sync':
      case 'Flush':
      case 'Terminate':
      case 'CopyDone':
      case 'SSLRequest':
      case 'GSSENCRequest':
        return { type };
      case 'CopyData':
        return { type, data: jsonToBytes(j.data, what) };
      case 'CopyFail':
        return { type, message: str(j.message) };
      case 'FunctionCall':
        return {
          type,
          functionOid: num(j.functionOid, 0, b, what),
          argumentFormats: list<number>(j.argumentFormats),
          arguments: values(j.arguments, what),
          resultFormat: num(j.resultFormat, 0, b, what),
        };
      case 'PasswordMessage':
        return { type, password: str(j.password) };
      case 'SASLInitialResponse':
        return { type, mechanism: str(j.mechanism), data: j.data === null || j.data === undefined ? null : jsonToBytes(j.data, what) };
      case 'SASLResponse':
      case 'GSSResponse':
        return { type, data: jsonToBytes(j.data ?? '', what) };
      case 'StartupMessage': {
        const params = (j.parameters ?? {}) as Record<string, string>;
        return {
          type,
          protocolVersion: protocolCode(j.protocolVersion as string | number | undefined),
          parameters: Object.entries(params).map(([name, value]) => ({ name, value: String(value) })),
        };
      }
      case 'CancelRequest': {
        const ref = typeof j.secretKey === 'string' ? /^\$(\w+)\.key$/.exec(j.secretKey) : null;
        return {
          type,
          processId: num(j.processId, 0, b, what),
          secretKey: ref ? keyOf(b, ref[1]!, String(j.secretKey)).secretKey : jsonToBytes(j.secretKey, what),
        };
      }
      default:
        throw new Error(`unknown frontend message type ${JSON.stringify(type)}`);
    }
  })();
  return { kind: 'message', message: m };
}

// ---- backend messages to JSON ------------------------------------------------------------------

/** Pseudo-messages a read can end with: the peer closed, nothing arrived in time, or undecodable bytes. */
export type ReadOutcome = { type: 'Closed' } | { type: 'Timeout' } | { type: 'DecodeError'; message: string };

/** The JSON shape of a received message (before normalization). ErrorResponse fields become a code→value map. */
export function backendToJson(m: BackendMessage | ReadOutcome): JsonObject {
  switch (m.type) {
    case 'ErrorResponse':
    case 'NoticeResponse': {
      const fields: JsonObject = {};
      for (const f of m.fields) fields[f.code] = f.value;
      return { type: m.type, fields };
    }
    case 'DataRow':
      return { type: m.type, values: [...m.values].map((v) => (v === null ? null : bytesToJson(v))) };
    case 'RowDescription':
      return { type: m.type, columns: m.columns.map((c) => ({ ...c })) };
    default: {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(m)) {
        if (v instanceof Uint8Array) out[k] = bytesToJson(v);
        else if (v === null) out[k] = null;
        else if (Array.isArray(v)) out[k] = [...(v as Json[])];
        else out[k] = v as Json;
      }
      return out;
    }
  }
}
