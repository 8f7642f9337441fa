/**
 * PGlite is one PostgreSQL backend shared by every client session, so one session at a time holds
 * it: from its first message until PostgreSQL reports ReadyForQuery with status 'I' (a session in a
 * transaction block, in COPY or in an extended batch ended by Flush keeps it). The others wait in
 * arrival order.
 */
export class SessionLock<Owner> {
  private owner: Owner | undefined;
  private readonly queue: { owner: Owner; grant: () => void; refuse: (e: Error) => void }[] = [];

  get holder(): Owner | undefined {
    return this.owner;
  }

  /** Resolves when `owner` holds the lock (at once if it already does). */
  acquire(owner: Owner): Promise<void> {
    if (this.owner === owner) return Promise.resolve();
    if (this.owner === undefined && this.queue.length === 0) {
      this.owner = owner;
      return Promise.resolve();
    }
    return new Promise<void>((grant, refuse) => this.queue.push({ owner, grant, refuse }));
  }

  release(owner: Owner): void {
    if (this.owner !== owner) return;
    const next = this.queue.shift();
    this.owner = next?.owner;
    next?.grant();
  }

  /** Takes a waiting owner out of the queue; its acquire() fails with `reason`. */
  withdraw(owner: Owner, reason: Error): void {
    const i = this.queue.findIndex((q) => q.owner === owner);
    if (i < 0) return;
    const [q] = this.queue.splice(i, 1);
    q!.refuse(reason);
  }

  /** Fails every waiter (the engine is closing or has crashed). */
  refuseAll(reason: Error): void {
    for (const q of this.queue.splice(0)) q.refuse(reason);
  }
}
