/** One trace line per message: readable text (arrow, name, key fields) or a JSON object. */
import { Buffer } from 'node:buffer';
import { ValueList } from '../wire/index.js';

export interface TraceEvent {
  /** Connection number, from 1 in the order clients connected. */
  readonly conn: number;
  /** F: client to server; B: server to client. */
  readonly dir: 'F' | 'B';
  /** The state machine's state before the message. */
  readonly state: string;
  /** The message name, or what the decoder could tell of undecodable bytes. */
  readonly type: string;
  /** The decoded message (absent when it did not decode). */
  readonly message?: { readonly type: string };
  /** Why the message is not allowed here, or why it did not decode. */
  readonly violation?: string;
  /** Who produced it when it was not the peer (the tracer answers SSLRequest itself). */
  readonly note?: string;
  readonly bytes: number;
}

const MAX_TEXT = 80;
const MAX_VALUES = 8;

/** Fields never printed in clear. */
const SECRET: Readonly<Record<string, readonly string[]>> = { PasswordMessage: ['password'] };

export function formatText(e: TraceEvent): string {
  const arrow = e.dir === 'F' ? 'F →' : 'B ←';
  const parts = [`#${e.conn}`, arrow, e.type];
  if (e.message) {
    const secret = SECRET[e.type] ?? [];
    for (const [k, v] of Object.entries(e.message)) {
      if (k === 'type') continue;
      parts.push(`${k}=${secret.includes(k) ? '***' : brief(v)}`);
    }
  } else parts.push(`(${e.bytes} bytes)`);
  if (e.note) parts.push(`[${e.note}]`);
  let line = parts.join(' ');
  if (e.violation) line += `  !! VIOLATION in ${e.state}: ${e.violation}`;
  return line;
}

export function formatJson(e: TraceEvent): string {
  const secret = SECRET[e.type] ?? [];
  return JSON.stringify(e, (key, value: unknown) => {
    if (secret.includes(key)) return '***';
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof ValueList) return value.toJSON();
    if (value instanceof Uint8Array) return { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
    return value;
  });
}

function brief(v: unknown): string {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return String(v);
  if (v instanceof ValueList) return list(v.toJSON().map((x) => (x === null ? 'NULL' : quote(x))));
  if (v instanceof Uint8Array) return v.length <= 16 ? `<${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}>` : `<${v.length} bytes>`;
  if (Array.isArray(v)) return list(v.map(item));
  return item(v);
}

function item(v: unknown): string {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array || v instanceof ValueList) return brief(v);
  const o = v as Record<string, unknown>;
  if ('code' in o && 'value' in o) return `${String(o.code)}:${quote(String(o.value))}`;
  if ('name' in o && 'value' in o) return `${String(o.name)}=${quote(String(o.value))}`;
  if ('name' in o && 'typeOid' in o) return `${String(o.name)}:${String(o.typeOid)}`;
  return `{${Object.entries(o).map(([k, x]) => `${k}=${brief(x)}`).join(' ')}}`;
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, MAX_VALUES);
  return `[${shown.join(', ')}${items.length > MAX_VALUES ? `, … ${items.length - MAX_VALUES} more` : ''}]`;
}

function quote(s: string): string {
  const cut = s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
  return JSON.stringify(cut);
}
