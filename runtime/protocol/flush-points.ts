/**
 * The spec's flush points, as sets the hot path can ask by message name: which backend messages
 * the server writes out right after sending (`flush`), and which frontend messages make it write
 * out what it holds (`flushesOutput`). Taken from the generated catalog once, so a lookup per
 * message costs a hash probe rather than a property search through the catalog.
 */
import { MESSAGES } from '../../generated/index.js';

const named = (pick: (m: (typeof MESSAGES)[string]) => boolean): ReadonlySet<string> =>
  new Set(Object.values(MESSAGES).filter(pick).map((m) => m.name));

/** Backend messages after which output is written at once (ReadyForQuery, CopyInResponse...). */
export const FLUSHED_AFTER_SENDING: ReadonlySet<string> = named((m) => m.flush);

/** Frontend messages whose receipt makes the server write what it holds (Sync, Flush, Query...). */
export const FLUSHING_INPUT: ReadonlySet<string> = named((m) => m.flushesOutput);
