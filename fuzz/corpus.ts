/**
 * What the decoder fuzzer starts from: byte streams that are valid in a known place (direction,
 * framing, protocol version, the 'p' responses and one-byte replies a decoder must expect), taken
 * from the spec (every message, by the fast-check arbitraries the codec tests use) and from the
 * golden captures of real conversations (both directions of every connection).
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { MESSAGES, PROTOCOL_3_0 } from '../generated/index.js';
import { type DirectionTable, type Framing } from '../runtime/wire/index.js';
import { messageArb } from '../test/codecs/support/arbitraries.js';
import { BACKEND_TABLE, encode, EXTENDED_BACKEND_TABLE, FRONTEND_TABLE, MODEL, PROTOCOL_3_2, type AnyMessage } from '../test/codecs/support/codecs.js';
import { chunksOf, decodeConnection, loadCaptures } from '../test/codecs/support/conversation.js';

/** A stream of bytes and everything a decoder needs to read it as a connection would. */
export interface Seed {
  readonly name: string;
  readonly table: DirectionTable<AnyMessage>;
  /** How the first message is framed; a frontend switches to typed after its StartupMessage. */
  readonly framing: Framing;
  readonly protocolVersion: number;
  /** Frontend: the contextual message each successive 'p' is (what the backend asked for). */
  readonly responses: readonly string[];
  /** Backend: the requests whose one-byte replies may come first (SSLRequest, GSSENCRequest). */
  readonly replies: readonly string[];
  readonly bytes: Buffer;
}

/** The byte table and framing of a message in one direction (one-byte replies are not messages here). */
function placeOf(name: string, direction: 'frontend' | 'backend'): { table: DirectionTable<AnyMessage>; framing: Framing } {
  const m = MODEL.messages.find((x) => x.name === name)!;
  const table = direction === 'frontend' ? FRONTEND_TABLE : m.extension !== undefined ? EXTENDED_BACKEND_TABLE : BACKEND_TABLE;
  return { table, framing: m.framing };
}

/**
 * `perMessage` encodings of every message in every direction it travels, with random and boundary
 * values (fast-check's bias toward edges: empty, extreme, long), each a seed of its own.
 */
export function messageSeeds(perMessage: number, seed: number): Seed[] {
  const out: Seed[] = [];
  for (const m of MODEL.messages) {
    for (const direction of m.directions) {
      const place = placeOf(m.name, direction);
      const samples = fc.sample(messageArb(m), { numRuns: perMessage, seed: seed ^ hash(m.name + direction) });
      samples.forEach((msg, i) => {
        out.push({
          name: `${m.name}/${direction}#${i}`,
          ...place,
          protocolVersion: PROTOCOL_3_2,
          responses: m.contextual ? [m.name] : [],
          replies: [],
          bytes: encode(msg),
        });
      });
    }
  }
  return out;
}

const STARTUP_REQUESTS_WITH_REPLIES = new Set(Object.values(MESSAGES).filter((m) => m.framing === 'reply').flatMap((m) => m.related));

/** Both directions of every connection of every golden capture. */
export function captureSeeds(): Seed[] {
  const out: Seed[] = [];
  for (const capture of loadCaptures()) {
    capture.connections.forEach((conn, i) => {
      const { F, B } = chunksOf(conn);
      const decoded = decodeConnection(F, B);
      const startup = decoded.frontend.find((d) => d.message.type === 'StartupMessage')?.message;
      const version = (startup?.protocolVersion as number | undefined) ?? PROTOCOL_3_0;
      const responses = decoded.frontend.filter((d) => MESSAGES[d.message.type]?.contextual).map((d) => d.message.type);
      const requests: string[] = [];
      for (const d of decoded.frontend) {
        if (!STARTUP_REQUESTS_WITH_REPLIES.has(d.message.type)) break;
        requests.push(d.message.type);
      }
      if (F.length > 0) {
        out.push({ name: `${capture.file}#${i}/F`, table: FRONTEND_TABLE, framing: 'startup', protocolVersion: version, responses, replies: [], bytes: Buffer.concat(F) });
      }
      if (B.length > 0) {
        out.push({ name: `${capture.file}#${i}/B`, table: BACKEND_TABLE, framing: 'typed', protocolVersion: version, responses: [], replies: requests, bytes: Buffer.concat(B) });
      }
    });
  }
  return out;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
