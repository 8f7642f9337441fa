/**
 * The executor side of Cloudberry's 'e' protocol: an engine wrapper that, for sessions that asked
 * for the extension, reports which relations each command inserted into, updated or deleted from,
 * in one ExtendProtocol message sent just before the command's CommandComplete (as Cloudberry's
 * ExecEndModifyTable does). Payloads are `ModifiedRelations` (count and OIDs in host order, as the
 * spec says); blocks come in the order Inserted, Updated, Deleted, and only non-empty ones.
 *
 * What was modified is asked of a `ModifiedRelationsTracker` made per session, around each Query
 * and Execute: on the embedded PGlite engine, the difference of pg_stat_xact_user_tables
 * (see xact-stats.ts); in tests, whatever a fake engine reports.
 *
 * Sessions that did not ask (every session of a protocol without the extension) are passed
 * through untouched: they never see an 'e'.
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

export interface ModifiedRelationsReportOptions {
  /** Makes the tracker for one session of the inner engine. */
  readonly tracker: (session: EngineSession, start: SessionStart) => ModifiedRelationsTracker;
}

const OPTION = cloudberryExtendProtocol.option;

/** A claimed option value that turns the extension on ('on', 'true', '1'...). */
function enabledValue(value: string | undefined): boolean {
  return value !== undefined && !['off', 'false', '0', 'no'].includes(value.toLowerCase());
}

export function withModifiedRelationsReport(inner: Engine, options: ModifiedRelationsReportOptions): Engine {
  return {
    name: `${inner.name}+cloudberry-executor`,
    async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
      const session = await inner.openSession(start, events);
      const tracker = options.tracker(session, start);
      // Only sessions whose client sent the extension's option (and whose protocol claimed it) get 'e'.
      const enabled = enabledValue(start.options?.[OPTION]);
      return {
        parameterStatus: session.parameterStatus,
        execute: (messages, out) => (enabled ? executeReporting(session, tracker, messages, out) : session.execute(messages, out)),
        cancel: () => session.cancel(),
        close: () => session.close(),
      };
    },
    close: () => inner.close(),
  };
}

/**
 * Runs each Query and Execute on its own so its changes can be measured, holds back its output,
 * and puts the ExtendProtocol message before its last CommandComplete. Other messages pass through.
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
    const held: (BackendMessage | { readonly type: string })[] = [];
    await session.execute([m], { send: (x) => held.push(x) });
    const failed = held.some((x) => x.type === 'ErrorResponse');
    const report = await tracker.after();
    const blocks = failed ? [] : modifiedRelationBlocks(report);
    const at = blocks.length > 0 ? held.map((x) => x.type).lastIndexOf('CommandComplete') : -1;
    const extension: ExtendProtocol = { type: 'ExtendProtocol', blocks };
    held.forEach((x, i) => {
      if (i === at) out.send(extension);
      out.send(x);
    });
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

/** BackendSink is typed for base messages; the protocol's codecs encode the extension's. */
