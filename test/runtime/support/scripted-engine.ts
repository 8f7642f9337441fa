/**
 * The trivial engine plus the few commands the protocol-hook and malformed-input tests need:
 * notices (now, or after the command as an asynchronous message), a statement that runs until
 * it is cancelled, one that fails, and COPY FROM STDIN. Optionally it answers malformed messages
 * (EngineSession.malformed) the way PostgreSQL does, and records them. Test-only.
 */
import type { BackendMessage, FrontendMessage } from '../../../generated/index.js';
import type { BackendSink, Engine, EngineSession, MalformedMessage, SessionEvents, SessionStart } from '../../../runtime/engine.js';
import { TrivialEngine } from '../../../runtime/engines/trivial/trivial-engine.js';
import { errorResponse, noticeResponse } from '../../../runtime/protocol/error-fields.js';

export interface ScriptedEngineOptions {
  /** Give sessions a `malformed` method (default: no, as an engine that predates it). */
  readonly malformed?: boolean;
  /** The client_encoding the sessions report (default UTF8). */
  readonly clientEncoding?: string;
}

export class ScriptedEngine implements Engine {
  readonly name = 'scripted';
  private readonly inner = new TrivialEngine();
  /** Every malformed message a session was asked to answer, in order. */
  readonly malformedSeen: MalformedMessage[] = [];
  /** Every Query text a session ran, in order. */
  readonly queries: string[] = [];
  sessions = 0;
  cancels = 0;

  constructor(readonly options: ScriptedEngineOptions = {}) {}

  async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
    this.sessions++;
    return new ScriptedSession(this, await this.inner.openSession(start, events), events);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const ready = (out: BackendSink): void => out.send({ type: 'ReadyForQuery', status: 'I' });

class ScriptedSession implements EngineSession {
  readonly parameterStatus: ReadonlyArray<readonly [string, string]>;
  readonly malformed?: (message: MalformedMessage, out: BackendSink) => Promise<void>;
  private wakeSleeper: (() => void) | undefined;
  /** Rows received by the COPY in progress, if one is. */
  private copyRows: number | undefined;

  constructor(
    private readonly engine: ScriptedEngine,
    private readonly inner: EngineSession,
    private readonly events: SessionEvents,
  ) {
    const encoding = engine.options.clientEncoding ?? 'UTF8';
    this.parameterStatus = inner.parameterStatus.map(([name, value]) => [name, name === 'client_encoding' ? encoding : value] as const);
    if (engine.options.malformed) this.malformed = (message, out) => this.answerMalformed(message, out);
  }

  async execute(messages: readonly FrontendMessage[], out: BackendSink): Promise<void> {
    for (const m of messages) {
      if (this.copyRows !== undefined) this.copy(m, out);
      else if (m.type === 'Query') await this.query(m.query, out);
      else await this.inner.execute([m], out);
    }
  }

  cancel(): void {
    this.engine.cancels++;
    this.wakeSleeper?.();
  }

  close(): Promise<void> {
    this.wakeSleeper?.();
    return this.inner.close();
  }

  private async query(text: string, out: BackendSink): Promise<void> {
    this.engine.queries.push(text);
    const notice = /^notice (later )?(.*)$/.exec(text);
    if (notice) {
      const message: BackendMessage = noticeResponse({ severity: 'NOTICE', code: '00000', message: notice[2]! });
      if (notice[1]) setTimeout(() => this.events.asyncMessage(message), 20);
      else out.send(message);
      out.send({ type: 'CommandComplete', tag: 'DO' });
      return ready(out);
    }
    if (text === 'sleep') {
      await new Promise<void>((resolve) => (this.wakeSleeper = resolve));
      this.wakeSleeper = undefined;
      out.send(errorResponse({ severity: 'ERROR', code: '57014', message: 'canceling statement due to user request' }));
      return ready(out);
    }
    if (text === 'fail') {
      out.send(errorResponse({ severity: 'ERROR', code: 'P0001', message: 'failed on purpose' }));
      return ready(out);
    }
    if (text === 'copy in') {
      this.copyRows = 0;
      out.send({ type: 'CopyInResponse', format: 0, columnFormats: [0] });
      return;
    }
    await this.inner.execute([{ type: 'Query', query: text }], out);
  }

  /** COPY FROM STDIN into nowhere: counts rows; a CopyFail fails it with PostgreSQL's context field. */
  private copy(m: FrontendMessage, out: BackendSink): void {
    const rows = this.copyRows!;
    if (m.type === 'CopyData') this.copyRows = rows + 1;
    else if (m.type === 'CopyDone') {
      this.copyRows = undefined;
      out.send({ type: 'CommandComplete', tag: `COPY ${rows}` });
      ready(out);
    } else if (m.type === 'CopyFail') {
      this.copyRows = undefined;
      out.send(errorResponse({ severity: 'ERROR', code: '57014', message: `COPY from stdin failed: ${m.message}`, where: `COPY t, line ${rows + 1}` }));
    }
  }

  /** As PostgreSQL: the error; ReadyForQuery after a Query, FunctionCall or Sync (an extended message skips to Sync). */
  private async answerMalformed(message: MalformedMessage, out: BackendSink): Promise<void> {
    this.engine.malformedSeen.push(message);
    out.send(errorResponse({ severity: 'ERROR', code: message.error.code, message: message.error.message }));
    if (message.type === 'Query' || message.type === 'FunctionCall' || message.type === 'Sync') ready(out);
  }
}
