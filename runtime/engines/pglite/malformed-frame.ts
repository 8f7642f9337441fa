/**
 * A malformed frame on its way to PostgreSQL. PostgreSQL reads a Bind's portal and statement names,
 * then looks the statement up, and only then reads the rest of the body: for it to find a client's
 * statement (and so fail where PostgreSQL fails for that client), the statement name must become the
 * session's private name (statement-names.ts). Every other message is read whole before any name is
 * used, so its frame goes as it came.
 */
import { Buffer } from 'node:buffer';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A Bind frame with its statement name replaced by `rename(name)`; the frame unchanged when the
 * names cannot be read (no terminating zero, not UTF-8): PostgreSQL then fails on them itself.
 */
export function withStatementName(frame: Uint8Array, rename: (name: string) => string): Uint8Array {
  const body = 5;
  const portalEnd = frame.indexOf(0, body);
  const nameEnd = portalEnd < 0 ? -1 : frame.indexOf(0, portalEnd + 1);
  if (nameEnd < 0) return frame;
  let name: string;
  try {
    name = utf8.decode(frame.subarray(portalEnd + 1, nameEnd));
  } catch {
    return frame;
  }
  const renamed = Buffer.concat([
    frame.subarray(0, portalEnd + 1),
    Buffer.from(rename(name), 'utf8'),
    frame.subarray(nameEnd),
  ]);
  renamed.writeInt32BE(renamed.length - 1, 1);
  return renamed;
}
