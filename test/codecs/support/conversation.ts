/**
 * Decodes both directions of a recorded connection the way a proxy would: the frontend starts
 * with untyped packets until its StartupMessage; the backend's first bytes may be one-byte
 * answers to SSLRequest/GSSENCRequest; a frontend 'p' is whichever response the backend's latest
 * authentication request asked for (read from the spec: the contextual message it relates to).
 */
import { Buffer } from 'node:buffer';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MESSAGES, PROTOCOL_3_0 } from '../../../generated/index.js';
import { StreamDecoder } from '../../../runtime/wire/index.js';
import { BACKEND_TABLE, FRONTEND_TABLE, type AnyMessage } from './codecs.js';

export interface Capture {
  readonly name: string;
  readonly client: string;
  readonly description: string;
  readonly connections: readonly { readonly chunks: readonly { readonly dir: 'F' | 'B'; readonly hex: string }[] }[];
  readonly file: string;
}

export const CAPTURE_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'captures');

export function loadCaptures(dir = CAPTURE_DIR): Capture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Omit<Capture, 'file'>), file: f }));
}

/** A connection's chunks per direction, in the order they were read. */
export function chunksOf(connection: Capture['connections'][number]): { F: Buffer[]; B: Buffer[] } {
  const out = { F: [] as Buffer[], B: [] as Buffer[] };
  for (const c of connection.chunks) out[c.dir].push(Buffer.from(c.hex, 'hex'));
  return out;
}

export interface Decoded {
  readonly message: AnyMessage;
  /** The message's own bytes in the stream. */
  readonly bytes: Buffer;
}

/** Runs a decoder over chunks; `before` sets framing/context before every next(), `after` sees each message. */
function run(decoder: StreamDecoder<AnyMessage>, chunks: readonly Uint8Array[], before: () => void, after: (m: AnyMessage) => void): { messages: Decoded[]; leftover: number } {
  const stream = Buffer.concat(chunks);
  const messages: Decoded[] = [];
  let pushed = 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    pushed += chunk.length;
    for (;;) {
      before();
      const start = pushed - decoder.buffered;
      const m = decoder.next();
      if (m === undefined) break;
      messages.push({ message: m, bytes: stream.subarray(start, pushed - decoder.buffered) });
      after(m);
    }
  }
  return { messages, leftover: decoder.buffered };
}

const STARTUP_REQUESTS_WITH_REPLIES = new Set(Object.values(MESSAGES).filter((m) => m.framing === 'reply').flatMap((m) => m.related));
const REPLY_NAMES = new Set(Object.values(MESSAGES).filter((m) => m.framing === 'reply').map((m) => m.name));

/** The contextual frontend message an authentication request asks for, if any. */
function responseTo(name: string): string | undefined {
  return MESSAGES[name]?.related.find((r) => MESSAGES[r]?.contextual);
}

/** The startup-phase packets at the head of a frontend stream. */
function startupPackets(frontend: Buffer): AnyMessage[] {
  const d = new StreamDecoder(FRONTEND_TABLE, { framing: 'startup' });
  d.push(frontend);
  const out: AnyMessage[] = [];
  for (;;) {
    const m = d.next();
    if (m === undefined) return out;
    out.push(m);
    if (!STARTUP_REQUESTS_WITH_REPLIES.has(m.type)) return out;
  }
}

export interface DecodedConnection {
  readonly frontend: Decoded[];
  readonly backend: Decoded[];
  /** Bytes that did not form a whole message at the end of each direction. */
  readonly leftover: { readonly frontend: number; readonly backend: number };
}

/** Decodes one connection whose directions arrive in the given chunks. Throws ProtocolDecodeError. */
export function decodeConnection(frontendChunks: readonly Uint8Array[], backendChunks: readonly Uint8Array[]): DecodedConnection {
  const head = startupPackets(Buffer.concat(frontendChunks));
  const startup = head.find((m) => m.type === 'StartupMessage');
  const version = (startup?.protocolVersion as number | undefined) ?? PROTOCOL_3_0;

  // Backend first: its authentication requests tell what each frontend 'p' is.
  const pendingReplies = head.filter((m) => STARTUP_REQUESTS_WITH_REPLIES.has(m.type)).map((m) => m.type);
  const backendDecoder = new StreamDecoder(BACKEND_TABLE, { context: { protocolVersion: version } });
  const responses: string[] = [];
  const backend = run(
    backendDecoder,
    backendChunks,
    () => {
      backendDecoder.expectReply = pendingReplies[0];
    },
    (m) => {
      if (REPLY_NAMES.has(m.type)) pendingReplies.shift();
      else pendingReplies.length = 0;
      if (m.type === 'NegotiateProtocolVersion') backendDecoder.context = { protocolVersion: m.newestVersion as number };
      const response = responseTo(m.type);
      if (response !== undefined) responses.push(response);
    },
  );

  const frontendDecoder = new StreamDecoder(FRONTEND_TABLE, { framing: 'startup', context: { protocolVersion: version } });
  let answered = 0;
  const frontend = run(
    frontendDecoder,
    frontendChunks,
    () => {
      const expected = responses[answered];
      frontendDecoder.context = { protocolVersion: version, contextual: expected === undefined ? undefined : { p: expected } };
    },
    (m) => {
      if (m.type === 'StartupMessage') frontendDecoder.framing = 'typed';
      if (MESSAGES[m.type]?.contextual) answered++;
    },
  );
  return { frontend: frontend.messages, backend: backend.messages, leftover: { frontend: frontend.leftover, backend: backend.leftover } };
}
