/**
 * LISTEN/NOTIFY across client sessions that share one backend.
 *
 * The backend listens on the union of every session's channels. PostgreSQL hands a notification
 * to its (only) frontend just before the ReadyForQuery of the command that committed the NOTIFY,
 * so it arrives in the output of the notifying session; from there it is routed: kept in that
 * output if that session listens on the channel, and delivered to every other listening session
 * as an asynchronous message.
 *
 * Which session listens where is learned after a LISTEN/UNLISTEN command completes, from
 * pg_listening_channels() (exact for channels new to the backend, and for removals), helped by the
 * channel names in the session's LISTEN statements (for a channel some other session already had).
 */
import type { BackendMessage } from '../../../generated/index.js';

export class Listeners<Session> {
  private readonly channels = new Map<string, Set<Session>>();

  /** The channels the backend listens on. */
  inBackend(): Set<string> {
    return new Set(this.channels.keys());
  }

  subscribers(channel: string): ReadonlySet<Session> | undefined {
    return this.channels.get(channel);
  }

  of(session: Session): Set<string> {
    const out = new Set<string>();
    for (const [c, s] of this.channels) if (s.has(session)) out.add(c);
    return out;
  }

  /**
   * Records what `session` listens on after its commands changed the backend's channels from
   * `before` to `after`; `named` are the channels its LISTEN statements named. Returns the channels
   * other sessions still need that the backend no longer listens on (UNLISTEN, UNLISTEN *).
   */
  reconcile(session: Session, before: ReadonlySet<string>, after: ReadonlySet<string>, named: ReadonlySet<string>): string[] {
    const old = this.of(session);
    const now = new Set<string>();
    for (const c of [...old, ...named]) if (after.has(c)) now.add(c);
    for (const c of after) if (!before.has(c)) now.add(c);
    for (const c of old) if (!now.has(c)) this.drop(session, c);
    for (const c of now) {
      let s = this.channels.get(c);
      if (!s) this.channels.set(c, (s = new Set()));
      s.add(session);
    }
    return [...this.channels.keys()].filter((c) => !after.has(c));
  }

  /** Forgets a session; returns the channels nobody listens on any more (to UNLISTEN). */
  remove(session: Session): string[] {
    const gone: string[] = [];
    for (const c of this.of(session)) if (this.drop(session, c)) gone.push(c);
    return gone;
  }

  private drop(session: Session, channel: string): boolean {
    const s = this.channels.get(channel);
    if (!s) return false;
    s.delete(session);
    if (s.size > 0) return false;
    this.channels.delete(channel);
    return true;
  }
}

/** Whether a command's output says the session's channels may have changed. */
export function changesListening(m: BackendMessage): boolean {
  return m.type === 'CommandComplete' && (m.tag === 'LISTEN' || m.tag === 'UNLISTEN' || m.tag === 'DISCARD ALL');
}

const LISTEN = /\blisten\s+("(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*)/gi;

/** The channel names of the LISTEN statements in a query text, as PostgreSQL folds them. */
export function listenedChannels(sql: string): string[] {
  if (!/listen/i.test(sql)) return [];
  const out: string[] = [];
  for (const m of sql.matchAll(LISTEN)) {
    const ident = m[1]!;
    out.push(ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident.toLowerCase());
  }
  return out;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
