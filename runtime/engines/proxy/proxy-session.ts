/**
 * One client session relayed to its own upstream session. The runtime hands `execute` the
 * client's messages; they are re-encoded and sent upstream, and the upstream's answers are
 * decoded, checked and re-encoded to the client until the upstream owes nothing more it would
 * send unprompted (see PendingAnswers). Between requests a pump keeps reading the upstream, so a
 * NOTIFY, a notice or an administrator's FATAL reaches an idle client.
 *
 * Nothing is accumulated: each message goes on as it is decoded. COPY FROM is paced by the
 * upstream socket (the runtime stops reading the client while `execute` waits for it to drain);
 * COPY TO is paced by the client socket when the sink can say it is full (`drained`), and by the
 * upstream socket, which is paused while its undecoded input is above a high-water mark.
 */
import { EngineError, type BackendSink, type EngineSession, type SessionEvents } from '../../engine.js';
import type { BackendMessage, FrontendMessage } from '../../../generated/index.js';
import { readErrorFields, type ErrorInfo } from '../../protocol/error-fields.js';
import { PendingAnswers } from './pending-answers.js';
import { UpstreamViolation, type UpstreamConnection } from './upstream.js';

/** How long closing a session waits for its upstream pump to end. */
const CLOSE_WAIT_MS = 3000;

/** Bytes of output after which the client's backpressure is checked. */
const DRAIN_EVERY = 256 * 1024;

/** Messages an upstream may send while the session is idle; they go to the client as soon as it is idle too. */
const ASYNC = new Set<string>(['NotificationResponse', 'NoticeResponse', 'ParameterStatus']);

export interface ViolationReport {
  /** Which side sent the message the state machine does not allow. */
  readonly by: 'upstream' | 'client';
  /** The state it arrived in (the upstream session's state machine). */
  readonly state: string;
  readonly message: string;
  readonly detail: string;
}

interface Waiter {
  readonly out: BackendSink;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class ProxySession implements EngineSession {
  readonly parameterStatus: ReadonlyArray<readonly [string, string]>;
  private readonly pending = new PendingAnswers();
  private waiter: Waiter | undefined;
  private kick: (() => void) | undefined;
  private lost: EngineError | undefined;
  private fatalInfo: ErrorInfo | undefined;
  private closing: Promise<void> | undefined;
  private sinceDrain = 0;
  /** Resolves when the pump has stopped (the upstream is gone or the session closed). */
  readonly pumped: Promise<void>;

  constructor(
    private readonly upstream: UpstreamConnection,
    private readonly events: SessionEvents,
    private readonly report: (v: ViolationReport) => void,
  ) {
    this.parameterStatus = upstream.parameterStatus;
    this.pumped = this.pump();
  }

  async execute(messages: readonly FrontendMessage[], out: BackendSink): Promise<void> {
    if (this.lost) throw this.lost;
    try {
      for (const m of messages) {
        this.upstream.queue(m);
        this.pending.sent(m);
      }
    } catch (err) {
      if (err instanceof UpstreamViolation) throw this.violated(err);
      throw err;
    }
    await this.upstream.flush();
    if (this.lost) throw this.lost;
    if (!this.pending.awaiting) return;
    await new Promise<void>((resolve, reject) => {
      this.waiter = { out, resolve, reject };
      this.wakePump();
    });
  }

  cancel(): void {
    this.upstream.cancel().catch(() => undefined);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.upstream.close();
      // The pump ends when the upstream socket does; it must not hold a shutdown if it is stuck
      // waiting on a client that is already gone.
      await Promise.race([this.pumped, new Promise<void>((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
    })();
    return this.closing;
  }

  // ---- the upstream pump --------------------------------------------------------------------------

  private wakePump(): void {
    const k = this.kick;
    this.kick = undefined;
    k?.();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        // Read while a request waits for answers, or when nothing is owed (what comes is then
        // asynchronous). Answers the upstream sends early, before the client's Flush, wait.
        while (this.waiter === undefined && !this.pending.idle) await new Promise<void>((r) => (this.kick = r));
        const m = await this.upstream.next();
        if (m === undefined) return this.upstreamGone();
        await this.dispatch(m);
      }
    } catch (err) {
      if (err instanceof UpstreamViolation) this.upstreamGone(this.violated(err));
      else this.upstreamGone(new EngineError('XX000', `proxy: ${(err as Error).message}`, { cause: err }));
    }
  }

  private async dispatch(m: BackendMessage): Promise<void> {
    if (m.type === 'ErrorResponse' && isFatal(m)) {
      // The upstream ends the session; the client is told so with the same SQLSTATE when it closes.
      this.fatalInfo = readErrorFields(m);
      return;
    }
    while (this.waiter === undefined) {
      if (ASYNC.has(m.type) && this.pending.idle) {
        this.events.asyncMessage(m);
        return;
      }
      await new Promise<void>((r) => (this.kick = r));
    }
    const w = this.waiter;
    this.pending.received(m);
    w.out.send(m);
    if (m.type === 'CopyData' || m.type === 'DataRow') {
      this.sinceDrain += m.type === 'CopyData' ? m.data.length : 64;
      if (this.sinceDrain >= DRAIN_EVERY) {
        this.sinceDrain = 0;
        const full = w.out.drained?.();
        if (full) await full;
      }
    }
    if (!this.pending.awaiting) {
      this.waiter = undefined;
      w.resolve();
    }
  }

  private violated(v: UpstreamViolation): EngineError {
    this.report({ by: v.by, state: v.state, message: v.messageName, detail: v.message });
    this.upstream.destroy();
    return new EngineError('08P01', v.message, { cause: v });
  }

  /** The upstream closed or broke: the waiting request (or, when idle, the session) ends with its reason. */
  private upstreamGone(reason?: EngineError): void {
    const err =
      reason ??
      (this.fatalInfo
        ? new EngineError(this.fatalInfo.code, this.fatalInfo.message)
        : new EngineError('08006', 'proxy: the upstream server closed the connection unexpectedly'));
    this.lost = err;
    this.upstream.destroy();
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w.reject(err);
    else if (this.closing === undefined) this.events.fatal(err);
  }
}

function isFatal(m: BackendMessage & { type: 'ErrorResponse' }): boolean {
  const severity = m.fields.find((f) => f.code === 'V')?.value ?? m.fields.find((f) => f.code === 'S')?.value;
  return severity === 'FATAL' || severity === 'PANIC';
}
