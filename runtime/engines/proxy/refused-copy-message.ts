/**
 * The runtime fails a COPY FROM STDIN that a client interrupts with another message (a Query, a
 * Terminate...) by handing the engine a CopyFail worded as the spec's `unexpectedDuringCopyIn`
 * error. PostgreSQL answers the message itself differently from a CopyFail (08P01 naming the
 * message type, then FATAL), and reads no more than its type byte before answering: so the proxy
 * sends PostgreSQL that type byte, framed as an empty message, and relays what it says.
 */
import { STATE_MACHINE, type FrontendMessage } from '../../../generated/index.js';
import { BASE_CODECS } from '../../protocol/extension.js';

/** The spec's message, its `{hex}` placeholder made a capture group. */
const PATTERN = new RegExp(
  `^${STATE_MACHINE.errors.unexpectedDuringCopyIn.message
    .split('{hex}')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('([0-9A-F]{2})')}$`,
);

/** The message a CopyFail from the runtime stands for: its name and a frame of its type byte; undefined for a client's own CopyFail. */
export function refusedDuringCopyIn(copyFailMessage: string): { type: FrontendMessage['type']; frame: Uint8Array } | undefined {
  const hex = PATTERN.exec(copyFailMessage)?.[1];
  if (hex === undefined) return undefined;
  const byte = parseInt(hex, 16);
  const name = BASE_CODECS.frontendTable.typed[byte]?.name;
  if (name === undefined) return undefined;
  // A byte shared by several messages (the 'p' family) names them all; any of them is refused alike.
  return { type: name.split('|')[0] as FrontendMessage['type'], frame: Uint8Array.of(byte, 0, 0, 0, 4) };
}
