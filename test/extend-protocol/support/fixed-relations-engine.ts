/**
 * Until the embedded PGlite engine exists: the trivial engine, plus a tracker that reports fixed
 * relation OIDs by the kind of command that completed (as if every INSERT went to two leaf
 * partitions, every UPDATE to one, every DELETE to another).
 */
import type { BackendSink, Engine, EngineSession, SessionEvents, SessionStart } from '../../../runtime/engine.js';
import { TrivialEngine } from '../../../runtime/engines/trivial/trivial-engine.js';
import type { ModifiedRelationsTracker } from '../../../runtime/extend-protocol/executor.js';
import type { ModifiedRelationsReport } from '../../../runtime/extend-protocol/extend-protocol-data.js';

/** Two leaf partitions (one OID above 2^31, as OIDs may be) and a plain table. */
export const PARTITION_A = 16_401;
export const PARTITION_B = 3_000_000_000;
export const TABLE_C = 16_500;

export const FIXED: Readonly<Record<string, ModifiedRelationsReport>> = {
  INSERT: { inserted: [PARTITION_A, PARTITION_B], updated: [], deleted: [] },
  UPDATE: { inserted: [], updated: [PARTITION_A], deleted: [] },
  DELETE: { inserted: [], updated: [], deleted: [TABLE_C] },
};

interface TrackedSession extends EngineSession {
  lastTag: string | undefined;
}

export class FixedRelationsEngine implements Engine {
  readonly name = 'fixed-relations';
  private readonly inner = new TrivialEngine();

  async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
    const s = await this.inner.openSession(start, events);
    const session: TrackedSession = {
      lastTag: undefined,
      parameterStatus: s.parameterStatus,
      execute: (messages, out: BackendSink) =>
        s.execute(messages, {
          send: (m) => {
            if (m.type === 'CommandComplete' && 'tag' in m) session.lastTag = String(m.tag);
            out.send(m);
          },
        }),
      cancel: () => s.cancel(),
      close: () => s.close(),
    };
    return session;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The tracker for a FixedRelationsEngine session. */
export function fixedTracker(session: EngineSession): ModifiedRelationsTracker {
  const s = session as TrackedSession;
  return {
    before() {
      s.lastTag = undefined;
    },
    after() {
      const kind = s.lastTag?.split(' ')[0] ?? '';
      const r = FIXED[kind];
      return r ? { inserted: [...r.inserted], updated: [...r.updated], deleted: [...r.deleted] } : { inserted: [], updated: [], deleted: [] };
    },
  };
}
