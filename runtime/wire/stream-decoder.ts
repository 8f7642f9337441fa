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
  /**
   * Strings must be valid UTF-8: a server decoding a client whose client_encoding is UTF8 (as
   * PostgreSQL verifies them, 22021). Otherwise invalid bytes decode to replacement characters.
   */
  validateUtf8?: boolean;
}

export interface TypedEntry<M> {
  readonly name: string;
  /** Longest allowed length (the Int32 after the type byte, counting itself). */
  readonly limit: number;
  /** For a type byte shared by messages told apart by state: each one's own limit, by name. */
  readonly contextualLimits?: Readonly<Record<string, number>>;
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

export class StreamDecoder<M> {
  private table: DirectionTable<M>;
  /**
   * The bytes being decoded: a pushed chunk (never copied), or a buffer this decoder allocated
   * to join the pieces of one message that arrived split across chunks.
   */
  private buf: Uint8Array = Buffer.alloc(0);
  private pos = 0;
  private end = 0;
  /** Chunks pushed while `buf` still had bytes, in order, from `queueHead` on (views, never copied). */
  private queue: Uint8Array[] = [];
  private queueHead = 0;
  /** Bytes in the queue. */
  private queued = 0;
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
    return this.end - this.pos + this.queued;
  }

  /**
   * Adds received bytes. Nothing is copied here: a message split across chunks is joined (into
   * memory of exactly its size) only once all of it has arrived, so the common case, messages
   * wholly inside one chunk, is decoded in place.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.end === this.pos && this.queued === 0) {
      this.buf = chunk;
      this.pos = 0;
      this.end = chunk.length;
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /** The first undecoded byte (a typed message's type byte) without consuming it; undefined if none. */
  peek(): number | undefined {
    if (this.end > this.pos) return this.buf[this.pos];
    return this.queued > 0 ? this.queue[this.queueHead]![0] : undefined;
  }

  /** Takes the undecoded bytes out of the decoder (e.g. to refuse them, or hand them to TLS). */
  drain(): Uint8Array {
    let out = this.buf.subarray(this.pos, this.end);
    if (this.queued > 0) {
      out = Buffer.concat([out, ...this.queue.slice(this.queueHead)]);
      this.clearQueue();
    }
    this.pos = this.end;
    return out;
  }

  /** The next complete message, or undefined if more bytes are needed. Throws ProtocolDecodeError. */
  next(): M | undefined {
    let avail = this.end - this.pos;
    if (avail === 0) {
      if (this.queued === 0) return undefined;
      this.advance();
      avail = this.end - this.pos;
    }
    if (this.expectReply !== undefined) {
      const reply = this.table.replies?.[this.expectReply]?.[this.buf[this.pos]!];
      if (reply !== undefined) {
        this.pos += 1;
        this.expectReply = undefined;
        return reply();
      }
    }
    if (this.framing === 'startup') return this.nextStartup(avail);
    const type = this.buf[this.pos]!;
    const entry = this.table.typed[type];
    if (entry === undefined) {
      throw withType(new ProtocolDecodeError('unknown-type', typeName(type), `invalid ${this.table.direction} message type ${type}`), type);
    }
    if (avail + this.queued < 5) return undefined;
    const len = avail >= 5 ? int32At(this.buf, this.pos + 1) : this.int32Across(1);
    if (len < this.table.minimumLength) {
      throw withType(new ProtocolDecodeError('invalid-length', entry.name, `invalid message length ${len}`), type);
    }
    const variant = entry.contextualLimits === undefined ? undefined : this.context.contextual?.[String.fromCharCode(type)];
    const limit = variant === undefined ? entry.limit : (entry.contextualLimits![variant] ?? entry.limit);
    if (len > limit) {
      throw withType(new ProtocolDecodeError('too-long', variant ?? entry.name, `message length ${len} exceeds the limit of ${limit}`), type);
    }
    if (avail < len + 1) {
      if (avail + this.queued < len + 1) return undefined;
      this.join(len + 1);
    }
    const p = this.pos;
    this.pos = p + 1 + len;
    if (this.expectReply !== undefined) this.expectReply = undefined;
    this.reader.validateUtf8 = this.context.validateUtf8 === true;
    try {
      return entry.decode(this.reader.reset(this.buf, p + 5, p + 1 + len, entry.name), this.context);
    } catch (err) {
      if (err instanceof ProtocolDecodeError) {
        withType(err, type);
        err.frame = this.buf.slice(p, p + 1 + len);
      }
      throw err;
    }
  }

  private nextStartup(avail: number): M | undefined {
    const startup = this.table.startup;
    if (startup === undefined) throw new ProtocolDecodeError('unexpected-context', 'startup packet', `no untyped packets in the ${this.table.direction} direction`);
    if (avail + this.queued < 4) return undefined;
    const len = avail >= 4 ? int32At(this.buf, this.pos) : this.int32Across(0);
    if (len < 8 || len > startup.limit) {
      throw new ProtocolDecodeError('invalid-length', 'startup packet', `invalid length of startup packet: ${len}`);
    }
    if (avail < len) {
      if (avail + this.queued < len) return undefined;
      this.join(len);
    }
    const p = this.pos;
    this.pos = p + len;
    this.reader.validateUtf8 = this.context.validateUtf8 === true;
    return startup.decode(this.reader.reset(this.buf, p + 4, p + len, 'startup packet'), this.context);
  }

  /** Moves on to the next queued chunk; the current one is used up. */
  private advance(): void {
    const chunk = this.queue[this.queueHead]!;
    this.buf = chunk;
    this.pos = 0;
    this.end = chunk.length;
    this.queued -= chunk.length;
    if (++this.queueHead === this.queue.length) this.clearQueue();
  }

  private clearQueue(): void {
    this.queue = [];
    this.queueHead = 0;
    this.queued = 0;
  }

  /** The Int32 at `offset` undecoded bytes from here, read across chunk boundaries (the bytes are there). */
  private int32Across(offset: number): number {
    let v = 0;
    for (let k = offset; k < offset + 4; k++) v = (v << 8) | this.byteAcross(k);
    return v;
  }

  private byteAcross(k: number): number {
    const avail = this.end - this.pos;
    if (k < avail) return this.buf[this.pos + k]!;
    k -= avail;
    for (let i = this.queueHead; ; i++) {
      const chunk = this.queue[i]!;
      if (k < chunk.length) return chunk[k]!;
      k -= chunk.length;
    }
  }

  /**
   * Makes the current buffer start with the next `total` undecoded bytes (all received), by
   * copying them into new memory: the pushed chunks are never written to.
   */
  private join(total: number): void {
    const out = Buffer.allocUnsafe(total);
    const head = this.end - this.pos;
    out.set(this.buf.subarray(this.pos, this.end), 0);
    let filled = head;
    while (filled < total) {
      const chunk = this.queue[this.queueHead]!;
      const take = Math.min(chunk.length, total - filled);
      out.set(take === chunk.length ? chunk : chunk.subarray(0, take), filled);
      filled += take;
      this.queued -= take;
      if (take === chunk.length) {
        if (++this.queueHead === this.queue.length) this.clearQueue();
      } else {
        this.queue[this.queueHead] = chunk.subarray(take);
      }
    }
    this.buf = out;
    this.pos = 0;
    this.end = total;
  }
}

function int32At(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

function typeName(type: number): string {
  return type >= 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, '0')}`;
}

function withType(err: ProtocolDecodeError, type: number): ProtocolDecodeError {
  err.typeByte ??= type;
  return err;
}
