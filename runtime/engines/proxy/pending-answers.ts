/**
 * Which frontend messages sent upstream still owe an answer, and whether the upstream will send
 * it without more input: the proxy waits for exactly those answers after forwarding a run, so a
 * pipelining client (Flush without Sync, many Syncs in flight) gets every answer as soon as
 * PostgreSQL sends it and never waits on one PostgreSQL is holding back.
 */
import type { BackendMessage, FrontendMessage } from '../../../generated/index.js';

/** What a frontend message is answered with. */
type Owed =
  /** ParseComplete, BindComplete, CloseComplete, or RowDescription/NoData ending a Describe. */
  | 'complete'
  | 'describe'
  /** CommandComplete, EmptyQueryResponse or PortalSuspended (rows and COPY before it). */
  | 'execute'
  /** ReadyForQuery, ending an extended batch. */
  | 'sync'
  /** ReadyForQuery after a Query or FunctionCall (which a failed batch skips). */
  | 'query';

interface Entry {
  readonly owed: Owed;
  /** The upstream answers it without waiting for more input (a Flush or Sync came after it). */
  flushed: boolean;
}

const OWED: Partial<Record<FrontendMessage['type'], Owed>> = {
  Parse: 'complete',
  Bind: 'complete',
  Close: 'complete',
  Describe: 'describe',
  Execute: 'execute',
  Sync: 'sync',
  Query: 'query',
  FunctionCall: 'query',
};

export class PendingAnswers {
  private entries: Entry[] = [];
  /** The upstream waits for COPY data from the client. */
  copyIn = false;

  /** Records a frontend message forwarded upstream. */
  sent(m: FrontendMessage): void {
    const owed = OWED[m.type];
    if (owed !== undefined) this.entries.push({ owed, flushed: false });
    if (m.type === 'CopyDone' || m.type === 'CopyFail') this.copyIn = false;
    if (owed === 'sync' || owed === 'query' || m.type === 'Flush' || m.type === 'CopyDone' || m.type === 'CopyFail') {
      for (const e of this.entries) e.flushed = true;
    }
  }

  /** Records a backend message received from upstream. */
  received(m: BackendMessage): void {
    const head = this.entries[0];
    switch (m.type) {
      case 'ParseComplete':
      case 'BindComplete':
      case 'CloseComplete':
      case 'NoData':
        if (head?.owed === 'complete' || head?.owed === 'describe') this.entries.shift();
        return;
      case 'RowDescription':
        if (head?.owed === 'describe') this.entries.shift();
        return;
      case 'CommandComplete':
      case 'EmptyQueryResponse':
      case 'PortalSuspended':
        if (head?.owed === 'execute') this.entries.shift();
        return;
      case 'CopyInResponse':
      case 'CopyBothResponse':
        this.copyIn = true;
        return;
      case 'ErrorResponse':
        this.copyIn = false;
        // In an extended batch PostgreSQL skips everything up to the next Sync, Query included.
        if (head !== undefined && head.owed !== 'sync' && head.owed !== 'query') {
          const sync = this.entries.findIndex((e) => e.owed === 'sync');
          this.entries = sync < 0 ? [] : this.entries.slice(sync);
        }
        return;
      case 'ReadyForQuery': {
        const at = this.entries.findIndex((e) => e.owed === 'sync' || e.owed === 'query');
        this.entries = at < 0 ? [] : this.entries.slice(at + 1);
        this.copyIn = false;
        return;
      }
      default:
        return;
    }
  }

  /** The upstream owes an answer it will send without more client input. */
  get awaiting(): boolean {
    return !this.copyIn && this.entries[0]?.flushed === true;
  }

  /** Nothing is owed: whatever the upstream sends now is asynchronous (NOTIFY, a notice, a FATAL). */
  get idle(): boolean {
    return this.entries.length === 0 && !this.copyIn;
  }
}
