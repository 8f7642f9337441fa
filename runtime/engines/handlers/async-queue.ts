/** A one-consumer queue the engine fills from CopyData messages while a handler reads it as an async iterable. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  get size(): number {
    return this.items.length;
  }

  push(...items: T[]): void {
    if (this.ended || this.failure) return;
    this.items.push(...items);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  fail(error: unknown): void {
    this.failure ??= { error };
    this.wake();
  }

  /** Resolves once the consumer has taken everything (or stopped). */
  async drained(): Promise<void> {
    while (this.items.length > 0 && !this.failure) await new Promise<void>((resolve) => (this.wakeProducer = resolve));
  }

  private wake(): void {
    const w = this.wakeConsumer;
    this.wakeConsumer = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        if (this.failure) throw this.failure.error;
        if (this.items.length > 0) {
          const item = this.items.shift()!;
          if (this.items.length === 0) this.releaseProducer();
          yield item;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      }
    } finally {
      // The consumer stopped early: nothing more will be read.
      this.failure ??= { error: new Error('COPY consumer stopped') };
      this.items.length = 0;
      this.releaseProducer();
    }
  }

  private releaseProducer(): void {
    const w = this.wakeProducer;
    this.wakeProducer = undefined;
    w?.();
  }
}
