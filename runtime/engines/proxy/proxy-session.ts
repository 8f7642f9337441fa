/**
 * One client session relayed to its own upstream session. The runtime hands `execute` the
 * client's messages; they are re-encoded and sent upstream in one write, and the upstream's
 * answers are decoded, checked and re-encoded to the client as their bytes arrive, in the same
 * turn, until the upstream owes nothing more (see PendingAnswers). A run that does not end at a
 * flush point (Sync, Flush, Query) is followed upstream by a Flush, so the upstream answers it at
 * once, as an embedded engine would; the runtime still sends the answers on to the client only at
 * PostgreSQL's flush points (a CopyInResponse, an error, ReadyForQuery, the client's Flush).
 * Between requests the upstream is still read, so a NOTIFY, a notice or an administrator's FATAL
 * reaches an idle client, and an upstream that dies is noticed at once.
 *
 * Nothing is accumulated: each message goes on as it is decoded. COPY FROM is paced by the
 * upstream socket (`execute` resolves only once it has room, and the runtime reads no more of the
 * client meanwhile); COPY TO is paced by the client socket when the sink can say it is full
 * (`drained`), and by the upstream socket, which is paused while its undecoded input is above a
 * high-water mark.
 */
import { EngineError, type BackendSink, type CopyInterruption, type EngineSession, type MalformedMessage, type SessionEvents } from '../../engine.js';
import type { BackendMessage, FrontendMessage } from '../../../generated/index.js';
import { readErrorFields } from '../../protocol/error-fields.js';
import { PendingAnswers } from './pending-answers.js';
import { UpstreamViolation, type UpstreamConnection } from './upstream.js';

/** Bytes of output after which the client's backpressure is checked. */
const DRAIN_EVERY = 256 * 1024;

/** Messages an upstream may send while the session is idle; they go to the client as soon as it is idle too. */
const ASYNC = new Set<string>(['NotificationResponse', 'NoticeResponse', 'ParameterStatus']);

/** Frontend messages after which PostgreSQL sends its answers without being asked to flush. */
const FLUSHED_AFTER = new Set<string>(['Sync', 'Flush', 'Query', 'FunctionCall']);

export interface ViolationReport {
  /** Which side sent the message the state machine does not allow. */
  readonly by: 'upstream' | 'client';
  /** The state it arrived in (the upstream session's state machine). */
  readonly state: string;
  readonly message: string;
  readonly detail: string;
}

/** What a session needs from its engine besides the upstream connection. */
export interface ProxySessionContext {
  readonly events: SessionEvents;
  /** Called when either side breaks the protocol. */
  readonly report: (v: ViolationReport) => void;
  /**
   * The process id a client knows for the session on this upstream backend (the one the runtime
   * sent in BackendKeyData), or undefined when it is not one of this engine's sessions.
   */
  readonly clientProcessId?: (upstreamProcessId: number) => number | undefined;
}

/** The request the upstream is answering: the runtime's `execute` (or `malformed`) call in progress. */
interface Request {
  readonly out: BackendSink;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class ProxySession implements EngineSession {
  readonly parameterStatus: ReadonlyArray<readonly [string, string]>;
  private readonly pending = new PendingAnswers();
  private readonly events: SessionEvents;
  private readonly report: (v: ViolationReport) => void;
  private readonly clientProcessId: (upstreamProcessId: number) => number | undefined;
  private request: Request | undefined;
  /** A message that came while no request could take it: it goes to the next one. */
  private held: BackendMessage | undefined;
  /** Relaying waits for the client's socket to drain. */
  private blocked = false;
  private sinceDrain = 0;
  /** A message PostgreSQL refuses in copy-in went upstream: the request lasts until the upstream ends the session. */
  private refused = false;
  /** The request's messages are not sent yet: it cannot be answered already. */
  private queueing = false;
  private lost: EngineError | undefined;
  private closing: Promise<void> | undefined;
  private markEnded!: () => void;
  /** Resolves when the upstream connection has ended (closed, lost or broken). */
  readonly ended = new Promise<void>((resolve) => (this.markEnded = resolve));

  constructor(
    private readonly upstream: UpstreamConnection,
    context: ProxySessionContext,
  ) {
    this.parameterStatus = upstream.parameterStatus;
    this.events = context.events;
    this.report = context.report;
    this.clientProcessId = context.clientProcessId ?? (() => undefined);
    upstream.onInput = () => this.relay();
    // Whatever came with the end of the login (a notice, a NOTIFY) is relayed now.
    this.relay();
  }

  execute(messages: readonly FrontendMessage[], out: BackendSink): Promise<void> {
    return this.forward(out, () => {
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        this.upstream.queue(m);
        this.pending.sent(m.type);
      }
      return messages[messages.length - 1]?.type;
    });
  }

  /**
   * A message PostgreSQL does not take in copy-in interrupted the client's COPY data. PostgreSQL
   * reads no more of such a message than its type byte before answering, so that byte goes
   * upstream, framed as an empty message, and the upstream answers it as it does (ERROR with its
   * COPY context, then FATAL): the request lasts until the upstream ends the session.
   */
  copyInterrupted(interruption: CopyInterruption, out: BackendSink): Promise<void> {
    return this.forward(out, () => {
      this.upstream.queueFrame(interruption.type, Uint8Array.of(interruption.byte, 0, 0, 0, 4), true);
      this.refused = true;
      return interruption.type;
    });
  }

  /**
   * A message the client framed well but whose body does not decode: PostgreSQL is upstream, so
   * it gets the client's own bytes and answers them as it answers any client (ERROR 08P01, then
   * ReadyForQuery or skipping to Sync). The client's violation is reported too.
   */
  malformed(message: MalformedMessage, out: BackendSink): Promise<void> {
    this.report({ by: 'client', state: this.upstream.fsm.state, message: message.type, detail: message.error.message });
    return this.forward(out, () => {
      this.upstream.queueFrame(message.type, message.frame);
      this.pending.sent(message.type);
      return message.type;
    });
  }

  cancel(): void {
    this.upstream.cancel().catch(() => undefined);
  }

  close(): Promise<void> {
    this.closing ??= this.upstream.close().then(() => this.upstreamGone());
    return this.closing;
  }

  // ---- requests -----------------------------------------------------------------------------------

  /**
   * Sends what `queue` queued upstream, with a Flush when it ends where PostgreSQL would hold its
   * answers, and relays the answers to `out` until none is owed.
   */
  private forward(out: BackendSink, queue: () => string | undefined): Promise<void> {
    if (this.lost) return Promise.reject(this.lost);
    const answered = new Promise<void>((resolve, reject) => {
      this.request = { out, resolve, reject };
    });
    // What the upstream sent before it reads these messages goes first (an error that ended a
    // COPY the client is still feeding): its state machine then judges them in the state they find.
    this.queueing = true;
    this.relay();
    this.queueing = false;
    if (this.lost) return answered;
    let room: boolean;
    try {
      const last = queue();
      if (this.pending.awaiting && this.upstream.fsm.frontendSpeaks && last !== undefined && !FLUSHED_AFTER.has(last)) {
        this.upstream.queue({ type: 'Flush' });
      }
      room = this.upstream.send();
    } catch (err) {
      this.fail(err);
      return answered;
    }
    this.relay();
    // COPY FROM: no more client data is read until the upstream has taken this.
    return room ? answered : answered.then(() => this.upstream.drained());
  }

  // ---- relaying -----------------------------------------------------------------------------------

  /** Passes on every message the upstream has sent so far, as far as the client can take them. */
  private relay(): void {
    if (this.blocked || this.lost) return;
    try {
      for (;;) {
        const held = this.held;
        const m = held ?? this.upstream.take();
        if (m === undefined) {
          if (this.upstream.ended) return this.upstreamGone();
          break;
        }
        this.held = undefined;
        if (!this.deliver(m)) {
          this.held = held ?? this.upstream.retain(m);
          if (this.upstream.ended) return this.upstreamGone();
          break;
        }
        if (this.blocked || this.lost) return;
      }
    } catch (err) {
      return this.fail(err);
    }
    const r = this.request;
    if (r !== undefined && !this.owesAnswer) {
      this.request = undefined;
      r.resolve();
    }
  }

  /** The request in progress is not fully answered yet. */
  private get owesAnswer(): boolean {
    return this.queueing || this.refused || this.pending.awaiting;
  }

  /** Passes one message on; false when nothing can take it now. */
  private deliver(m: BackendMessage): boolean {
    if (m.type === 'ErrorResponse' && isFatal(m)) {
      // The upstream ends the session: the client is told so with the same SQLSTATE, now, and
      // nothing more is sent upstream (it would be judged in a state the session never reaches).
      const info = readErrorFields(m);
      this.upstreamGone(new EngineError(info.code, info.message));
      return true;
    }
    if (m.type === 'NotificationResponse') {
      const pid = this.clientProcessId(m.processId);
      if (pid !== undefined && pid !== m.processId) m = { ...m, processId: pid };
    }
    const r = this.request;
    if (r === undefined) {
      if (!ASYNC.has(m.type) || !this.pending.idle) return false;
      this.events.asyncMessage(m);
      return true;
    }
    this.pending.received(m);
    r.out.send(m);
    if (m.type === 'CopyData' || m.type === 'DataRow') this.paceClient(r.out, m.type === 'CopyData' ? m.data.length : 64);
    if (!this.owesAnswer) {
      this.request = undefined;
      r.resolve();
    }
    return true;
  }

  /** Every DRAIN_EVERY bytes of rows, stops relaying while the client's socket is full. */
  private paceClient(out: BackendSink, bytes: number): void {
    this.sinceDrain += bytes;
    if (this.sinceDrain < DRAIN_EVERY) return;
    this.sinceDrain = 0;
    const full = out.drained?.();
    if (full === undefined) return;
    this.blocked = true;
    void full.then(() => {
      this.blocked = false;
      this.relay();
    });
  }

  // ---- failures -----------------------------------------------------------------------------------

  /** Either side broke the protocol (reported, 08P01), or the proxy itself failed (XX000): the session ends. */
  private fail(err: unknown): void {
    if (err instanceof UpstreamViolation) {
      this.report({ by: err.by, state: err.state, message: err.messageName, detail: err.message });
      this.upstreamGone(new EngineError('08P01', err.message, { cause: err }));
    } else {
      this.upstreamGone(new EngineError('XX000', `proxy: ${(err as Error).message}`, { cause: err }));
    }
  }

  /** The upstream closed or broke: the request in progress (or, when idle, the session) ends with its reason. */
  private upstreamGone(reason?: EngineError): void {
    if (this.lost) return;
    const err = reason ?? new EngineError('08006', 'proxy: the upstream server closed the connection unexpectedly');
    this.lost = err;
    this.upstream.onInput = undefined;
    this.upstream.destroy();
    this.markEnded();
    const r = this.request;
    this.request = undefined;
    if (r) r.reject(err);
    else if (this.closing === undefined) this.events.fatal(err);
  }
}

function isFatal(m: BackendMessage & { type: 'ErrorResponse' }): boolean {
  const severity = m.fields.find((f) => f.code === 'V')?.value ?? m.fields.find((f) => f.code === 'S')?.value;
  return severity === 'FATAL' || severity === 'PANIC';
}
