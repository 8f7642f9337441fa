/**
 * A side query: a read-only query an engine wrapper runs in a client session's own backend state,
 * between two of the client's runs (PgliteSession.sideQuery), e.g. to measure what the client's
 * last statement changed in its transaction. The client must not be able to tell it ran:
 *
 * - statements: it uses the backend's unnamed statement, which no client reaches (every client
 *   statement, the unnamed one included, has a private name: statement-names.ts);
 * - portals: a portal of its own, closed at once (a client's unnamed portal may still be open
 *   inside a transaction block or a Flush-ended batch);
 * - transaction and pipeline: inside an extended batch that has not reached its Sync it adds no
 *   Sync, so it runs in the batch's implicit transaction and the client's Sync still ends it; at a
 *   Sync point it adds one, whose ReadyForQuery keeps the status (T stays T; I ends only the side
 *   query's own implicit transaction).
 */
import type { FrontendMessage } from '../../../generated/index.js';
import { ValueList } from '../../wire/index.js';

export interface SideQueryOptions {
  /** Keep the backend for this session past the end of its transaction, until a side query without it. */
  readonly keepBackend: boolean;
}

/** Text rows, null for NULL. */
export type SideQueryRows = (string | null)[][];

/** A portal name no client is expected to use. */
const SIDE_PORTAL = '__pgspec_side__';

/** The messages of a side query; `atSync`: no extended batch is open, so the query brings its own Sync. */
export function sideQueryMessages(sql: string, atSync: boolean): FrontendMessage[] {
  const messages: FrontendMessage[] = [
    { type: 'Parse', statement: '', query: sql, parameterTypes: [] },
    { type: 'Bind', portal: SIDE_PORTAL, statement: '', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] },
    { type: 'Execute', portal: SIDE_PORTAL, maxRows: 0 },
    { type: 'Close', target: 'P', name: SIDE_PORTAL },
  ];
  if (atSync) messages.push({ type: 'Sync' });
  return messages;
}
