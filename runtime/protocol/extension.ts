/**
 * Protocol extensions at run time: the generated delta of an extension spec (its table entries,
 * encoders and state rules) merged into the base codecs, once per protocol.
 */
import { Writer, type DirectionTable, type TypedEntry } from '../wire/index.js';
import { BACKEND_TABLE, FRONTEND_TABLE, encodeBackend, encodeFrontend, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import { buildStateTables, type ExtensionStateRule, type StateTables } from './state-machine.js';

/** The shape of a generated extension bundle's main export (generated/extensions/NAME/index.ts). */
export interface ProtocolExtension {
  readonly name: string;
  readonly title: string;
  /** The `_pq_.` startup option a client sends to ask for it. */
  readonly option: string | undefined;
  readonly frontendTyped: readonly { byte: number; entry: TypedEntry<unknown> }[];
  readonly backendTyped: readonly { byte: number; entry: TypedEntry<unknown> }[];
  readonly encoders: Readonly<Record<string, (w: Writer, m: never) => void>>;
  readonly stateRules: readonly ExtensionStateRule[];
}

/** A message of the base protocol or of an extension. */
export interface AnyMessage {
  readonly type: string;
}

/** Codecs and state tables for the base protocol plus a set of extensions. */
export class ProtocolCodecs {
  readonly frontendTable: DirectionTable<FrontendMessage>;
  readonly backendTable: DirectionTable<BackendMessage>;
  readonly stateTables: StateTables;
  private readonly extraEncoders: Map<string, (w: Writer, m: never) => void>;

  constructor(readonly extensions: readonly ProtocolExtension[] = []) {
    this.frontendTable = extend(FRONTEND_TABLE, extensions.flatMap((e) => e.frontendTyped));
    this.backendTable = extend(BACKEND_TABLE, extensions.flatMap((e) => e.backendTyped));
    this.stateTables = buildStateTables(extensions.flatMap((e) => e.stateRules));
    this.extraEncoders = new Map(extensions.flatMap((e) => Object.entries(e.encoders)));
  }

  encodeBackend(w: Writer, m: AnyMessage): void {
    if (this.extraEncoders.size === 0) return encodeBackend(w, m as BackendMessage);
    const extra = this.extraEncoders.get(m.type);
    if (extra) extra(w, m as never);
    else encodeBackend(w, m as BackendMessage);
  }

  encodeFrontend(w: Writer, m: AnyMessage): void {
    if (this.extraEncoders.size === 0) return encodeFrontend(w, m as FrontendMessage);
    const extra = this.extraEncoders.get(m.type);
    if (extra) extra(w, m as never);
    else encodeFrontend(w, m as FrontendMessage);
  }
}

function extend<M>(table: DirectionTable<M>, entries: readonly { byte: number; entry: TypedEntry<unknown> }[]): DirectionTable<M> {
  if (entries.length === 0) return table;
  const typed = [...table.typed];
  for (const { byte, entry } of entries) typed[byte] = entry as TypedEntry<M>;
  return { ...table, typed };
}

export const BASE_CODECS = new ProtocolCodecs();
