/**
 * What is volatile in a server's answers is replaced by a placeholder, the same way at record and
 * at replay time, so recordings compare across runs and servers. README.md lists each rule and why.
 */
import type { Allowance, Json, JsonObject } from './corpus-format.js';

/**
 * PostgreSQL's FirstGenbkiObjectId: OIDs below it are fixed in the catalog headers and the same in
 * every version; from here on they are assigned by initdb (system views) or at run time (a
 * session's tables and types), so they differ between servers.
 */
const FIRST_UNFIXED_OID = 10000;

export interface NormalizeContext {
  /** Process ids the conversation's sessions were given, to name the sender of a notification. */
  readonly pids: ReadonlyMap<number, string>;
}

const TIMESTAMP = /\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:\d{2})?)?/g;
/** Error fields that say where in the server's C sources an error was raised. */
const SOURCE_FIELDS = ['F', 'L', 'R'];

export function normalizeMessages(messages: readonly JsonObject[], ctx: NormalizeContext): JsonObject[] {
  const out = messages.map((m) => normalizeOne(m, ctx));
  return sortParameterStatusRuns(out);
}

function normalizeOne(m: JsonObject, ctx: NormalizeContext): JsonObject {
  switch (m.type) {
    case 'BackendKeyData':
      return { ...m, processId: '<pid>', secretKey: `<${byteLength(m.secretKey)} bytes>` };
    case 'NotificationResponse': {
      const name = ctx.pids.get(m.processId as number);
      return { ...m, processId: `<pid:${name ?? 'unknown'}>` };
    }
    case 'AuthenticationMD5Password':
      return { ...m, salt: `<${byteLength(m.salt)} bytes>` };
    case 'AuthenticationSASLContinue':
      return { ...m, data: typeof m.data === 'string' ? m.data.replace(/r=[^,]*/, 'r=<nonce>').replace(/s=[^,]*/, 's=<salt>') : m.data };
    case 'AuthenticationSASLFinal':
      return { ...m, data: typeof m.data === 'string' ? m.data.replace(/v=.*/, 'v=<server signature>') : m.data };
    case 'ParameterStatus':
      return m.name === 'server_version' ? { ...m, value: '<server_version>' } : m;
    case 'ErrorResponse':
    case 'NoticeResponse': {
      const fields: JsonObject = {};
      for (const [code, value] of Object.entries(m.fields as JsonObject)) {
        if (SOURCE_FIELDS.includes(code)) continue;
        fields[code] = typeof value === 'string' ? value.replace(TIMESTAMP, '<timestamp>').replace(/\b(process|PID) \d+/g, '$1 <pid>').replace(/\bpg_temp_\d+\b/g, 'pg_temp_<n>') : value;
      }
      return { type: m.type, fields };
    }
    case 'RowDescription':
      return {
        ...m,
        columns: (m.columns as JsonObject[]).map((c) => ({
          ...c,
          tableOid: userOid(c.tableOid, '<table oid>'),
          typeOid: userOid(c.typeOid, '<type oid>'),
        })),
      };
    case 'ParameterDescription':
      return { ...m, parameterTypes: (m.parameterTypes as Json[]).map((t) => userOid(t, '<type oid>')) };
    default:
      return m;
  }
}

function userOid(v: Json | undefined, placeholder: string): Json {
  return typeof v === 'number' && v >= FIRST_UNFIXED_OID ? placeholder : (v ?? null);
}

function byteLength(v: Json | undefined): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.hex === 'string') return v.hex.length / 2;
  return 0;
}

/** Several ParameterStatus in a row are a set: servers send them in different orders (GUC table order). */
function sortParameterStatusRuns(messages: JsonObject[]): JsonObject[] {
  const out: JsonObject[] = [];
  let run: JsonObject[] = [];
  const flush = (): void => {
    run.sort((a, b) => String(a.name).localeCompare(String(b.name), 'en'));
    out.push(...run);
    run = [];
  };
  for (const m of messages) {
    if (m.type === 'ParameterStatus') run.push(m);
    else {
      flush();
      out.push(m);
    }
  }
  flush();
  return out;
}

// ---- comparison with allowances ----------------------------------------------------------------

/** Does `value` contain everything `pattern` says (objects by subset, the rest by equality)? */
export function matches(value: Json | undefined, pattern: Json): boolean {
  if (pattern !== null && typeof pattern === 'object' && !Array.isArray(pattern)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
    return Object.entries(pattern).every(([k, p]) => matches(value[k], p));
  }
  return JSON.stringify(value) === JSON.stringify(pattern);
}

function merge(target: JsonObject, set: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [k, v] of Object.entries(set)) {
    const cur = out[k];
    const bothObjects = v !== null && typeof v === 'object' && !Array.isArray(v) && cur !== null && typeof cur === 'object' && !Array.isArray(cur);
    out[k] = bothObjects ? merge(cur as JsonObject, v as JsonObject) : v;
  }
  return out;
}

/** The expected messages of one step with the target's allowances applied, and the received ones with ignored messages dropped. */
export function applyAllowances(
  step: string,
  expected: readonly JsonObject[],
  received: readonly JsonObject[],
  allowances: readonly Allowance[],
): { expected: JsonObject[]; received: JsonObject[] } {
  let exp = [...expected];
  let got = [...received];
  for (const a of allowances) {
    const replaced = a.expect?.[step];
    if (replaced !== undefined) exp = [...replaced];
    for (const p of a.patch ?? []) exp = exp.map((m) => (matches(m, p.match) ? merge(m, p.set) : m));
    const ignore = a.ignore ?? [];
    if (ignore.length > 0) {
      got = got.filter((m) => !ignore.some((p) => matches(m, p)));
      exp = exp.filter((m) => !ignore.some((p) => matches(m, p)));
    }
  }
  return { expected: exp, received: got };
}
