/**
 * Which frontend messages sent upstream still owe an answer: the proxy relays the upstream's
 * answers to a run of client messages until none is owed, so a pipelining client (Flush without
 * Sync, many Syncs in flight) gets every answer of its run, and the runtime sends them on at the
 * flush points PostgreSQL has. A COPY FROM in progress owes nothing until the client's data ends.
 */
import type { BackendMessage } from '../../../generated/index.js';

/** What a frontend message is answered with. */
type Owed =
  /** ParseComplete, BindComplete or CloseComplete. */
  | 'complete'
  /** RowDescription or NoData, ending a Describe (after a ParameterDescription for a statement). */
  | 'describe'
  /** CommandComplete, EmptyQueryResponse or PortalSuspended (rows and COPY before it). */
  | 'execute'
  /** ReadyForQuery, ending an extended batch. */
  | 'sync'
  /** ReadyForQuery after a Query or FunctionCall (which a failed batch skips). */
  | 'query';

const OWED: Readonly<Record<string, Owed | undefined>> = {
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
  private readonly entries: Owed[] = [];
  /** The upstream waits for COPY data from the client. */
  copyIn = false;

  /** Records a frontend message, by name, sent upstream. */
  sent(type: string): void {
    const owed = OWED[type];
    if (owed !== undefined) this.entries.push(owed);
    else if (type === 'CopyDone' || type === 'CopyFail') this.copyIn = false;
  }

  /** Records a backend message received from upstream. */
  received(m: BackendMessage): void {
    const head = this.entries[0];
    switch (m.type) {
      case 'ParseComplete':
      case 'BindComplete':
      case 'CloseComplete':
      case 'NoData':
        if (head === 'complete' || head === 'describe') this.entries.shift();
        return;
      case 'RowDescription':
        if (head === 'describe') this.entries.shift();
        return;
      case 'CommandComplete':
      case 'EmptyQueryResponse':
      case 'PortalSuspended':
        if (head === 'execute') this.entries.shift();
        return;
      case 'CopyInResponse':
      case 'CopyBothResponse':
        this.copyIn = true;
        // The COPY reads every message sent after the one that started it (a Sync or Flush
        // pipelined behind the Execute is ignored there): nothing after the head is owed.
        this.entries.length = Math.min(this.entries.length, 1);
        return;
      case 'ErrorResponse':
        this.copyIn = false;
        // In an extended batch PostgreSQL skips everything up to the next Sync, Query included.
        if (head !== undefined && head !== 'sync' && head !== 'query') {
          const sync = this.entries.indexOf('sync');
          this.entries.splice(0, sync < 0 ? this.entries.length : sync);
        }
        return;
      case 'ReadyForQuery': {
        const at = this.entries.findIndex((e) => e === 'sync' || e === 'query');
        this.entries.splice(0, at < 0 ? this.entries.length : at + 1);
        this.copyIn = false;
        return;
      }
      default:
        return;
    }
  }

  /** The upstream owes an answer it sends without more client data (once it is flushed). */
  get awaiting(): boolean {
    return this.entries.length > 0 && !this.copyIn;
  }

  /** Nothing is owed: whatever the upstream sends now is asynchronous (NOTIFY, a notice, a FATAL). */
  get idle(): boolean {
    return this.entries.length === 0 && !this.copyIn;
  }
}
