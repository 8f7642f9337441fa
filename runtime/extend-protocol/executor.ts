/**
 * The executor side of Cloudberry's 'e' protocol: an engine wrapper that, for sessions that asked
 * for the extension, reports which relations each command inserted into, updated or deleted from,
 * in one ExtendProtocol message sent just before the command's CommandComplete (as Cloudberry's
 * ExecEndModifyTable does). Payloads are `ModifiedRelations` (count and OIDs in host order, as the
 * spec says); blocks come in the order Inserted, Updated, Deleted, and only non-empty ones.
 *
 * What was modified is asked of a `ModifiedRelationsTracker` made per session, around each Query
 * and Execute: on the embedded PGlite engine, the difference of the tuple counters read in the
 * session's own backend state (pglite-executor.ts, xact-stats.ts); in tests, whatever a fake
 * engine reports.
 *
 * Sessions that did not ask (every session of a protocol without the extension) are passed
 * through untouched: they never see an 'e'.
 *
 * A Query is measured as a whole: a Query of several statements reports the union of what they
 * modified, once, before the last CommandComplete. An Execute that stops at its row limit reports
 * before its PortalSuspended (an INSERT ... RETURNING has done all its work by then, as when
 * Cloudberry's executor ends). A command that fails reports nothing; so does COPY.
 */
import type { BackendMessage, FrontendMessage } from '../../generated/index.js';
import {
  ExtendProtocolSubtag,
  cloudberryExtendProtocol,
  encodeModifiedRelations,
  type ExtendProtocol,
  type ExtendProtocolBlock,
} from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import type { BackendSink, Engine, EngineSession, SessionEvents, SessionStart } from '../engine.js';
import { Writer } from '../wire/index.js';
import type { ModifiedRelationsReport } from './extend-protocol-data.js';

export interface ModifiedRelationsTracker {
  /** Called just before a Query or Execute runs. */
  before(): Promise<void> | void;
  /** The relations modified since `before` (by a command that completed). */
  after(): Promise<ModifiedRelationsReport> | ModifiedRelationsReport;
}

export interface ModifiedRelationsReportOptions<S extends EngineSession = EngineSession> {
  /** Makes the tracker for one session of the inner engine. */
  readonly tracker: (session: S, start: SessionStart) => ModifiedRelationsTracker;
}

/** An engine whose sessions are of type S (so that a tracker can use what they offer beyond EngineSession). */
export interface EngineOf<S extends EngineSession> extends Engine {
  openSession(start: SessionStart, events: SessionEvents): Promise<S>;
}

const OPTION = cloudberryExtendProtocol.option;

/** A claimed option value that turns the extension on ('on', 'true', '1'...). */
function enabledValue(value: string | undefined): boolean {
  return value !== undefined && !['off', 'false', '0', 'no'].includes(value.toLowerCase());
}

export function withModifiedRelationsReport<S extends EngineSession>(inner: EngineOf<S>, options: ModifiedRelationsReportOptions<S>): Engine {
  return {
    name: `${inner.name}+cloudberry-executor`,
    async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
      const session = await inner.openSession(start, events);
      const tracker = options.tracker(session, start);
      // Only sessions whose client sent the extension's option (and whose protocol claimed it) get 'e'.
      const enabled = enabledValue(start.options?.[OPTION]);
      const wrapped: EngineSession = {
        parameterStatus: session.parameterStatus,
        execute: (messages, out) => (enabled ? executeReporting(session, tracker, messages, out) : session.execute(messages, out)),
        cancel: () => session.cancel(),
        close: () => session.close(),
      };
      // A malformed Query or Execute reports nothing: it fails.
      const malformed = session.malformed?.bind(session);
      return malformed ? { ...wrapped, malformed } : wrapped;
    },
    close: () => inner.close(),
  };
}

/**
 * Runs each Query and Execute on its own so its changes can be measured, and puts the
 * ExtendProtocol message before its last CommandComplete. Other messages pass through.
 */
async function executeReporting(
  session: EngineSession,
  tracker: ModifiedRelationsTracker,
  messages: readonly FrontendMessage[],
  out: BackendSink,
): Promise<void> {
  for (const m of messages) {
    if (m.type !== 'Query' && m.type !== 'Execute') {
      await session.execute([m], out);
      continue;
    }
    await tracker.before();
    const tail = new HeldTail(out);
    try {
      await session.execute([m], tail);
    } catch (e) {
      // The tracker may hold something until its second reading (the PGlite engine: its backend).
      await Promise.resolve(tracker.after()).catch(() => undefined);
      throw e;
    }
    const report = await tracker.after();
    tail.end(tail.failed ? [] : modifiedRelationBlocks(report));
  }
}

/** Where a statement's result ends: the ExtendProtocol message goes before the last of these. */
const RESULT_END = new Set(['CommandComplete', 'PortalSuspended']);
/** What begins or belongs to a statement's result: after it, an earlier result end is not the last. */
const STATEMENT_OUTPUT = new Set([...RESULT_END, 'RowDescription', 'DataRow', 'EmptyQueryResponse', 'ErrorResponse', 'CopyInResponse', 'CopyOutResponse', 'CopyBothResponse']);

/**
 * Passes a command's output on as it comes (rows are not held, and the client's backpressure
 * reaches the engine), except from its latest CommandComplete (or PortalSuspended) on: that one
 * may turn out to be the last, before which the ExtendProtocol message goes once the command is
 * over and measured.
 */
class HeldTail implements BackendSink {
  private held: { readonly type: string }[] = [];
  /** The command failed (an ErrorResponse): it reports nothing. */
  failed = false;

  constructor(private readonly out: BackendSink) {}

  send(m: BackendMessage | { readonly type: string }): void {
    if (m.type === 'ErrorResponse') this.failed = true;
    if (STATEMENT_OUTPUT.has(m.type)) this.release();
    if (RESULT_END.has(m.type) || this.held.length > 0) this.held.push(m);
    else this.out.send(m);
  }

  drained(): Promise<void> | undefined {
    return this.out.drained?.();
  }

  /** The command is over: the ExtendProtocol message (when there are blocks) before the held result end, then the rest. */
  end(blocks: ExtendProtocolBlock[]): void {
    if (blocks.length > 0 && RESULT_END.has(this.held[0]?.type ?? '')) {
      const extension: ExtendProtocol = { type: 'ExtendProtocol', blocks };
      this.out.send(extension);
    }
    this.release();
  }

  private release(): void {
    for (const m of this.held) this.out.send(m);
    this.held = [];
  }
}

/** The Inserted, Updated and Deleted blocks of a report, leaving out empty ones. */
export function modifiedRelationBlocks(report: ModifiedRelationsReport): ExtendProtocolBlock[] {
  const blocks: ExtendProtocolBlock[] = [];
  const add = (subtag: ExtendProtocolBlock['subtag'], relationOids: readonly number[]): void => {
    if (relationOids.length === 0) return;
    const w = new Writer(4 + 4 * relationOids.length);
    encodeModifiedRelations(w, { relationOids });
    blocks.push({ subtag, data: w.take() });
  };
  add(ExtendProtocolSubtag.Inserted, report.inserted);
  add(ExtendProtocolSubtag.Updated, report.updated);
  add(ExtendProtocolSubtag.Deleted, report.deleted);
  return blocks;
}
