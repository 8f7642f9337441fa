/**
 * Turns a byte stream, in any chunking, into messages, one at a time: the caller sets the framing
 * and context the current protocol state calls for before each `next()`, so a state change
 * between two pipelined messages is always honoured.
 *
 * Buffers handed to `push` are never written to, and memory the decoder allocated is never
 * rewritten while a decoded message may still view it: decoded values are zero-copy views.
 */
import { Buffer } from 'node:buffer';
import { ProtocolDecodeError } from './decode-error.js';
import { Reader } from './reader.js';

/** What the bytes alone cannot tell. */
export interface DecodeContext {
  /** The session's protocol version code (major << 16 | minor); selects version-dependent field rules. */
  protocolVersion: number;
  /** For type bytes shared by several messages told apart only by state (the 'p' family): byte → message name expected now. */
  contextual?: Readonly<Record<string, string>>;
}

export interface TypedEntry<M> {
  readonly name: string;
  /** Longest allowed length (the Int32 after the type byte, counting itself). */
  readonly limit: number;
  decode(r: Reader, ctx: DecodeContext): M;
}

export interface StartupEntry<M> {
  readonly limit: number;
  decode(r: Reader, ctx: DecodeContext): M;
}

/** The decoding tables of one direction, generated from the spec. */
export interface DirectionTable<M> {
  readonly direction: 'frontend' | 'backend';
  /** Indexed by type byte. */
  readonly typed: ReadonlyArray<TypedEntry<M> | undefined>;
  readonly startup?: StartupEntry<M>;
  /** Raw one-byte replies by the request they answer, then by byte. */
  readonly replies?: Readonly<Record<string, Readonly<Record<number, () => M>>>>;
  readonly minimumLength: number;
}

export type Framing = 'typed' | 'startup';

const MIN_ALLOC = 64 * 1024;

export class StreamDecoder<M> {
  private table: DirectionTable<M>;
  private buf: Uint8Array = Buffer.alloc(0);
  private pos = 0;
  private end = 0;
  /** True when `buf` is memory this decoder allocated, so bytes may be appended after `end`. */
  private owned = false;
  private readonly reader = new Reader(this.buf);
  /** How the next message is framed. */
  framing: Framing;
  /** Set to the request name ("SSLRequest") when the next byte may be a raw one-byte reply. */
  expectReply: string | undefined;
  context: DecodeContext;

  constructor(table: DirectionTable<M>, options: { framing?: Framing; context?: DecodeContext } = {}) {
    this.table = table;
    this.framing = options.framing ?? 'typed';
    this.context = options.context ?? { protocolVersion: 196608 };
  }

  /** Replaces the tables, e.g. with ones extended by a protocol extension. */
  useTable(table: DirectionTable<M>): void {
    this.table = table;
  }

  /** Bytes received and not yet decoded. */
  get buffered(): number {
    return this.end - this.pos;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const pending = this.end - this.pos;
    if (pending === 0) {
      this.buf = chunk;
      this.pos = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      this.buf.set(chunk, this.end);
      this.end += chunk.length;
      return;
    }
    const size = Math.max(MIN_ALLOC, (pending + chunk.length) * 2);
    const next = Buffer.allocUnsafe(size);
    next.set(this.buf.subarray(this.pos, this.end), 0);
    next.set(chunk, pending);
    this.buf = next;
    this.pos = 0;
    this.end = pending + chunk.length;
    this.owned = true;
  }

  /** Takes the undecoded bytes out of the decoder (e.g. to refuse them, or hand them to TLS). */
  drain(): Uint8Array {
    const out = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return out;
  }

  /** The next complete message, or undefined if more bytes are needed. Throws ProtocolDecodeError. */
  next(): M | undefined {
    const avail = this.end - this.pos;
    if (avail === 0) return undefined;
    const buf = this.buf;
    const p = this.pos;
    if (this.expectReply !== undefined) {
      const reply = this.table.replies?.[this.expectReply]?.[buf[p]!];
      if (reply !== undefined) {
        this.pos = p + 1;
        this.expectReply = undefined;
        return reply();
      }
    }
    if (this.framing === 'startup') return this.nextStartup(avail);
    const type = buf[p]!;
    const entry = this.table.typed[type];
    if (entry === undefined) {
      throw new ProtocolDecodeError('unknown-type', typeName(type), `invalid ${this.table.direction} message type ${type}`);
    }
    if (avail < 5) return undefined;
    const len = (buf[p + 1]! << 24) | (buf[p + 2]! << 16) | (buf[p + 3]! << 8) | buf[p + 4]!;
    if (len < this.table.minimumLength) {
      throw new ProtocolDecodeError('invalid-length', entry.name, `invalid message length ${len}`);
    }
    if (len > entry.limit) {
      throw new ProtocolDecodeError('too-long', entry.name, `message length ${len} exceeds the limit of ${entry.limit}`);
    }
    if (avail < len + 1) return undefined;
    this.pos = p + 1 + len;
    if (this.expectReply !== undefined) this.expectReply = undefined;
    return entry.decode(this.reader.reset(buf, p + 5, p + 1 + len, entry.name), this.context);
  }

  private nextStartup(avail: number): M | undefined {
    const startup = this.table.startup;
    if (startup === undefined) throw new ProtocolDecodeError('unexpected-context', 'startup packet', `no untyped packets in the ${this.table.direction} direction`);
    if (avail < 4) return undefined;
    const buf = this.buf;
    const p = this.pos;
    const len = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    if (len < 8 || len > startup.limit) {
      throw new ProtocolDecodeError('invalid-length', 'startup packet', `invalid length of startup packet: ${len}`);
    }
    if (avail < len) return undefined;
    this.pos = p + len;
    return startup.decode(this.reader.reset(buf, p + 4, p + len, 'startup packet'), this.context);
  }
}

function typeName(type: number): string {
  return type >= 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, '0')}`;
}
