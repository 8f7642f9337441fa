/**
 * One way into every message of the spec for the codec tests: its encoder, the table and framing
 * that decode it, the context a decoder needs, and a plain form for deep comparison.
 */
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import * as base from '../../../generated/index.js';
import * as cloudberry from '../../../generated/extensions/cloudberry-extend-protocol/index.js';
import { loadModel, PACKAGE_ROOT } from '../../../generator/generate.js';
import type { MessageModel, SpecModel } from '../../../generator/model.js';
import { decodeOne, ValueList, Writer, type DecodeContext, type DirectionTable, type TypedEntry, Reader } from '../../../runtime/wire/index.js';

export type AnyMessage = { readonly type: string } & Record<string, unknown>;
export type Direction = 'frontend' | 'backend';

export const MODEL: SpecModel = loadModel([join(PACKAGE_ROOT, 'spec')]);

export const PROTOCOL_3_0 = base.PROTOCOL_3_0;
export const PROTOCOL_3_2 = base.PROTOCOL_3_2;

/** The base backend table plus the Cloudberry 'e' message, built as the extension's README says. */
export function withCloudberry(table: DirectionTable<base.BackendMessage>): DirectionTable<base.BackendMessage | cloudberry.ExtendProtocol> {
  const typed: (TypedEntry<base.BackendMessage | cloudberry.ExtendProtocol> | undefined)[] = [...table.typed];
  for (const { byte, entry } of cloudberry.cloudberryExtendProtocol.backendTyped) typed[byte] = entry;
  return { ...table, typed };
}

export const FRONTEND_TABLE = base.FRONTEND_TABLE as unknown as DirectionTable<AnyMessage>;
export const BACKEND_TABLE = base.BACKEND_TABLE as unknown as DirectionTable<AnyMessage>;
export const EXTENDED_BACKEND_TABLE = withCloudberry(base.BACKEND_TABLE) as unknown as DirectionTable<AnyMessage>;

const exportsOf = { ...base, ...cloudberry } as unknown as Record<string, unknown>;

function fn<T>(name: string): T {
  const f = exportsOf[name];
  if (typeof f !== 'function') throw new Error(`the generated code has no ${name}`);
  return f as T;
}

export type Encoder = (w: Writer, m: AnyMessage) => void;
export type BodyDecoder = (r: Reader, ctx: DecodeContext) => AnyMessage;

export function encoderOf(name: string): Encoder {
  return fn<Encoder>(`encode${name}`);
}

export function bodyDecoderOf(name: string): BodyDecoder {
  return fn<BodyDecoder>(`decode${name}Body`);
}

/** Encodes one message with its own encoder and returns a copy of the bytes. */
export function encode(m: AnyMessage): Buffer {
  const w = new Writer(16);
  encoderOf(m.type)(w, m);
  return Buffer.from(w.take());
}

/** Which table decodes a message in a direction (the extension's table for extension messages). */
export function tableFor(m: MessageModel, dir: Direction): DirectionTable<AnyMessage> {
  if (dir === 'frontend') return FRONTEND_TABLE;
  return m.extension !== undefined ? EXTENDED_BACKEND_TABLE : BACKEND_TABLE;
}

/** The context that lets a table decode this message: contextual ones name themselves. */
export function contextFor(m: MessageModel, protocolVersion: number = PROTOCOL_3_2): DecodeContext {
  return m.contextual && m.typeByte !== undefined ? { protocolVersion, contextual: { [m.typeByte]: m.name } } : { protocolVersion };
}

/** Decodes whole-message bytes through the stream tables, as a connection would. */
export function decodeWhole(m: MessageModel, dir: Direction, bytes: Uint8Array, protocolVersion = PROTOCOL_3_2): AnyMessage {
  return decodeOne(tableFor(m, dir), bytes, { framing: m.framing, context: contextFor(m, protocolVersion) });
}

/** Decodes the body with the message's own decodeXBody, skipping the header. */
export function decodeBody(m: MessageModel, bytes: Uint8Array, protocolVersion = PROTOCOL_3_2): AnyMessage {
  const header = m.framing === 'startup' ? 4 : 5;
  return bodyDecoderOf(m.name)(new Reader(bytes, header, bytes.length, m.name), contextFor(m, protocolVersion));
}

/** A form vitest can deep-compare: bytes as hex, value lists as their values. */
export function plain(v: unknown): unknown {
  if (v instanceof ValueList) return { valueList: v.toArray().map((x) => (x === null ? null : Buffer.from(x).toString('hex'))) };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const fromHex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
