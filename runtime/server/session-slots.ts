/**
 * The `max_connections` of a server: how many sessions may be past their StartupMessage at once.
 * A connection takes a slot when its StartupMessage arrives and gives it back when it closes; one
 * that finds none left is refused (FATAL 53300) and the others are unaffected. Connections still
 * in SSL negotiation or sending a CancelRequest take no slot, as in PostgreSQL, where cancelling
 * must work on a full server; those are bounded by the startup timeout instead.
 */
import type { ErrorInfo } from '../protocol/error-fields.js';

/** PostgreSQL's answer when max_connections is reached. */
export const TOO_MANY_CONNECTIONS: ErrorInfo = { severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' };

export class SessionSlots {
  private used = 0;

  constructor(readonly max: number = Infinity) {
    if (!(max >= 1)) throw new RangeError(`maxConnections must be at least 1 (got ${max})`);
  }

  /** Takes a slot; false when all are in use. */
  acquire(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }

  release(): void {
    if (this.used > 0) this.used--;
  }

  get inUse(): number {
    return this.used;
  }
}
