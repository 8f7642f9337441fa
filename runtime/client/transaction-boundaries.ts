/**
 * Where top-level transactions end, told from the protocol alone — ReadyForQuery statuses,
 * CommandComplete tags and ErrorResponses — never from the SQL the client sent:
 *
 * - tag `COMMIT` (COMMIT, END): the transaction block committed. A COMMIT of a failed block is
 *   tagged `ROLLBACK` by the server, so this tag means a real commit.
 * - tag `ROLLBACK` (ROLLBACK, ABORT, or a COMMIT of a failed block): the block was rolled back —
 *   unless a savepoint may exist (a `SAVEPOINT` tag since the block began), when it can be
 *   `ROLLBACK TO SAVEPOINT`, which has the same tag. Then the next ReadyForQuery decides: status
 *   `I` means the whole transaction ended, `T`/`E` a savepoint rollback.
 * - tag `PREPARE TRANSACTION`: the transaction left the session without committing.
 * - ReadyForQuery `I` after any activity not yet ended by a tag: an implicit transaction (an
 *   autocommit statement, a multi-statement Query, an extended-query batch up to Sync) ended —
 *   aborted if an ErrorResponse came since the last boundary, committed otherwise.
 */
import type { BackendMessage } from '../../generated/index.js';
import type { AnyMessage } from '../protocol/extension.js';

export type TransactionEnd = 'commit' | 'abort' | 'prepare';

export class TransactionBoundaries {
  private readonly listeners: ((end: TransactionEnd) => void)[] = [];
  /** Something happened (a command completed, an error, an extension message) since the last boundary. */
  private activity = false;
  private errorSinceBoundary = false;
  /** Savepoints possibly open in the current block (RELEASE is not counted down: an upper bound). */
  private savepoints = 0;
  /** A `ROLLBACK` tag that may have been ROLLBACK TO SAVEPOINT, pending the next ReadyForQuery. */
  private ambiguousRollback = false;
  /** The status of the last ReadyForQuery. */
  status: 'I' | 'T' | 'E' = 'I';
  /** The first ReadyForQuery (end of startup) was seen; nothing before it is a transaction. */
  private started = false;

  onEnd(fn: (end: TransactionEnd) => void): void {
    this.listeners.push(fn);
  }

  /** Feed every backend message, in order. */
  observe(m: BackendMessage | AnyMessage): void {
    const msg = m as BackendMessage;
    if (!this.started) {
      if (msg.type === 'ReadyForQuery') this.started = true;
      return;
    }
    switch (msg.type) {
      case 'ErrorResponse':
        this.activity = true;
        this.errorSinceBoundary = true;
        return;
      case 'CommandComplete':
        this.activity = true;
        this.commandComplete(msg.tag);
        return;
      case 'ReadyForQuery':
        this.readyForQuery(msg.status);
        return;
      case 'NoticeResponse':
      case 'ParameterStatus':
      case 'NotificationResponse':
        return;
      default:
        this.activity = true;
    }
  }

  private commandComplete(tag: string): void {
    if (tag === 'COMMIT') this.end('commit');
    else if (tag === 'PREPARE TRANSACTION') this.end('prepare');
    else if (tag === 'ROLLBACK') {
      if (this.savepoints === 0) this.end('abort');
      else this.ambiguousRollback = true;
    } else if (tag === 'SAVEPOINT') this.savepoints++;
  }

  private readyForQuery(status: string): void {
    if (status === 'I') {
      if (this.ambiguousRollback) this.end('abort');
      else if (this.activity) this.end(this.errorSinceBoundary ? 'abort' : 'commit');
    } else {
      // Still inside a block: a pending ROLLBACK was to a savepoint, and earlier errors were handled.
      this.ambiguousRollback = false;
      this.errorSinceBoundary = false;
    }
    if (status === 'I' || status === 'T' || status === 'E') this.status = status;
  }

  private end(kind: TransactionEnd): void {
    this.activity = false;
    this.errorSinceBoundary = false;
    this.savepoints = 0;
    this.ambiguousRollback = false;
    for (const fn of this.listeners) fn(kind);
  }
}
