/**
 * One client session on the shared PGlite backend.
 *
 * A session takes the backend (SessionLock) when it has messages to run and keeps it until
 * PostgreSQL answers ReadyForQuery with status 'I' and no COPY is open: so nothing of another
 * session runs inside its Sync batch, its Flush-ended pipeline or its transaction block. Its
 * messages go to PostgreSQL unchanged except for statement names; PostgreSQL's answers come back
 * unchanged except for those names in error texts, the CloseCompletes of the engine's own Closes,
 * notifications, which are routed to the sessions that listen, and reports of a parameter whose
 * value did not change. A malformed message goes to PostgreSQL as the client framed it; between
 * two of the client's runs, a wrapper may run side queries in the session's own state.
 */
import { EngineError, type BackendSink, type CopyInterruption, type EngineSession, type MalformedMessage, type SessionEvents, type SessionStart } from '../../engine.js';
import { fillErrorText } from '../../protocol/state-machine.js';
import {
  MESSAGES,
  STATE_MACHINE,
  type BackendMessage,
  type ErrorResponse,
  type ErrorResponseField,
  type FrontendMessage,
  type NotificationResponse,
  type ParameterStatus,
} from '../../../generated/index.js';
import { BackendDecoder, encodeMessages } from './codec.js';
import { withStatementName } from './malformed-frame.js';
import { changesListening, listenedChannels, quoteIdent } from './notifications.js';
import { errorOf, rowsOf, type PgliteEngine } from './pglite-engine.js';
import type { CallEnd } from './pglite-thread.js';
import { applySettingsMessages, captureSettingsSql, changesSettings, mayChangeSettings, quoteLiteral, startupSettings, type Settings } from './session-settings.js';
import { sideQueryMessages, type SideQueryOptions, type SideQueryRows } from './side-query.js';
import { StatementNames } from './statement-names.js';

/** A portal name no client can have created: an Execute of it fails, which aborts an unfinished extended batch. */
const NO_SUCH_PORTAL = '__pgspec_abort__';

export class PgliteSession implements EngineSession {
  parameterStatus: ReadonlyArray<readonly [string, string]> = [];
  private readonly names: StatementNames;
  private settings: Settings = [];
  /** A call of this session is running in PGlite. */
  private running = false;
  /** Between the start of execute() and its call in PGlite (waiting for the backend, switching settings). */
  private starting = false;
  /** A CancelRequest arrived while this session waited for the backend. */
  private cancelPending = false;
  /** PostgreSQL waits for this session's COPY data. */
  private copyIn = false;
  /** The last call ended with ReadyForQuery: no extended batch is open. */
  private atSync = true;
  /** An error in the open extended batch: PostgreSQL skips messages until Sync. */
  private skipping = false;
  /** The status of the last ReadyForQuery PostgreSQL sent this session. */
  private status: 'I' | 'T' | 'E' = 'I';
  /** The transaction block failed: every statement but ROLLBACK fails until it ends. */
  private failedBlock = false;
  /** A side query asked to keep the backend past the end of the transaction (see sideQuery). */
  private keepsBackend = false;
  /** A side query failed where the client's own statement would then fail: told to the client with its next output. */
  private sideError: ErrorResponse | undefined;
  /** The value of every parameter as last reported to the client, to leave out reports of an unchanged value. */
  private readonly reported = new Map<string, string>();
  private closing: Promise<void> | undefined;
  private lostWith: EngineError | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  // What this hold (the time between taking and releasing the backend) may have changed:
  private settingsMayChange = false;
  private listeningMayChange = false;
  private readonly namedChannels = new Set<string>();
  private droppedAllStatements = false;

  constructor(
    private readonly engine: PgliteEngine,
    readonly id: number,
    readonly start: SessionStart,
    private readonly events: SessionEvents,
  ) {
    this.names = new StatementNames(id);
  }

  /** Applies the StartupMessage's settings (failing like PostgreSQL on a bad one) and reads what to report. */
  async open(): Promise<void> {
    const wanted = startupSettings(this.start.parameters);
    const encoding = wanted.find(([name]) => name.toLowerCase() === 'client_encoding');
    if (encoding && !supportedEncoding(encoding[1])) {
      throw new EngineError('0A000', `client_encoding "${encoding[1]}" is not supported by the PGlite engine: use UTF8`);
    }
    await this.engine.lock.acquire(this);
    try {
      await this.checkDatabase();
      // The session runs as its user, as in PostgreSQL: a role of that name is created on first use.
      if (this.start.user !== this.engine.baseUser) {
        await this.engine.ensureRole(this.start.user);
        wanted.unshift(['session_authorization', this.start.user]);
      }
      if (wanted.length > 0) {
        this.engine.settingsAre(undefined);
        const out = await this.engine.internal(applySettingsMessages(wanted, this.engine.baseUser));
        const failed = out.find((m) => m.type === 'ErrorResponse');
        if (failed) throw errorOf(failed);
        this.settings = await this.readSettings();
        this.engine.settingsAre(this.settings);
      } else {
        await this.engine.switchSettings(this.settings);
      }
      this.parameterStatus = await this.engine.reportedParameters();
      for (const [name, value] of this.parameterStatus) this.reported.set(name, value);
    } finally {
      this.engine.lock.release(this);
    }
  }

  /** PGlite serves one database; a StartupMessage naming another fails as PostgreSQL fails it. */
  private async checkDatabase(): Promise<void> {
    const name = this.start.database;
    const [row] = await this.engine.rows(
      `select current_database()::text, exists(select 1 from pg_database where datname = ${quoteLiteral(name)})`,
    );
    if (row?.[0] === name) return;
    if (row?.[1] === 't') throw new EngineError('0A000', `the PGlite engine serves only database "${row[0]}"`);
    throw new EngineError('3D000', `database "${name}" does not exist`);
  }

  execute(messages: readonly FrontendMessage[], out: BackendSink): Promise<void> {
    return this.queued(() =>
      this.call(out, (batch) => encodeMessages(this.copyIn ? this.copyInput(messages, batch) : this.prepare(messages, batch))),
    );
  }

  /**
   * Fails the COPY in progress for a message PostgreSQL does not take in copy-in: the COPY is
   * failed in the backend (a message PostgreSQL reads there would end the shared backend with
   * FATAL), and the output filter turns its error into the one PostgreSQL sends for the message,
   * with the COPY's context; the runtime then ends the session.
   */
  copyInterrupted(interruption: CopyInterruption, out: BackendSink): Promise<void> {
    return this.queued(() =>
      this.call(out, (batch) => {
        batch.violation = interruption.error.message;
        return encodeMessages([{ type: 'CopyFail', message: interruption.error.message }]);
      }),
    );
  }

  /**
   * Hands the client's frame to PostgreSQL as it came, so that PostgreSQL answers it exactly as it
   * would (08P01 or 22021, the transaction block failed, skip to Sync after an extended-query
   * message, ReadyForQuery after a Query), under the same rules for holding the backend as any run.
   * Only a Bind's statement name is mapped, because PostgreSQL looks the statement up before it
   * reads the rest of the body.
   */
  malformed(message: MalformedMessage, out: BackendSink): Promise<void> {
    return this.queued(() =>
      this.call(out, () => (message.type === 'Bind' ? withStatementName(message.frame, (name) => this.names.reference(name)) : message.frame)),
    );
  }

  /**
   * Runs a read-only query in this session's backend state between two of its client's runs,
   * without the client seeing anything of it: for wrappers that measure what the client's
   * statements did (the Cloudberry executor, runtime/extend-protocol). See side-query.ts for how
   * it leaves the client's statements, portals, transaction and pipeline alone.
   *
   * Resolves with the rows, or undefined when the query cannot run unnoticed: the transaction
   * block failed or the batch skips to Sync (the query would fail, and in a batch its error would
   * hide the client's next messages), COPY is in progress, the session is closed.
   *
   * With `keepBackend`, the session keeps the backend even where its transaction ends, until a
   * side query without it: nothing of another session runs between two measurements.
   */
  sideQuery(sql: string, options: SideQueryOptions): Promise<SideQueryRows | undefined> {
    return this.queued(() => this.sideQueryNow(sql, options.keepBackend));
  }

  cancel(): void {
    if (this.running || this.copyIn) this.engine.thread.cancel();
    else if (this.starting) this.cancelPending = true;
  }

  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  /** The engine crashed: tell the runtime, which ends the connection. */
  lost(error: EngineError): void {
    if (this.lostWith) return;
    this.lostWith = error;
    this.events.fatal(error);
  }

  // ---- running client messages ---------------------------------------------------------------------

  /** Runs one piece of work after the ones before it (client runs, side queries, the close). */
  private queued<T>(work: () => Promise<T>): Promise<T> {
    const run = this.inFlight.then(work);
    this.inFlight = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** One call in PGlite for the client: takes the backend, sends `input(batch)`, passes the output through `batch`. */
  private async call(out: BackendSink, input: (batch: OutputFilter) => Uint8Array): Promise<void> {
    if (this.lostWith) throw this.lostWith;
    if (this.closing) throw new EngineError('08006', 'the session is closed');
    const wasHolding = this.engine.lock.holder === this;
    await this.takeForStatement();
    if (this.sideError) out.send(this.sideError);
    this.sideError = undefined;
    const batch = new OutputFilter(this, out);
    let end: CallEnd;
    try {
      if (this.copyIn) {
        this.running = true;
        end = await this.engine.thread.feed(input(batch), (b, more) => batch.push(b, more));
      } else {
        const toSend = input(batch);
        if (toSend.length === 0) {
          if (!wasHolding) this.engine.lock.release(this);
          return;
        }
        const cancel = this.cancelPending;
        this.cancelPending = false;
        this.running = true;
        end = await this.engine.thread.run(toSend, (b, more) => batch.push(b, more), cancel);
      }
    } catch (e) {
      throw this.lostWith ?? new EngineError('57P02', `PGlite has stopped: ${(e as Error).message}`, { cause: e });
    } finally {
      this.running = false;
    }
    this.copyIn = end === 'need-input';
    if (this.copyIn) {
      batch.finish(false);
      return;
    }
    if (batch.unsupportedEncoding !== undefined) await this.refuseEncoding(batch.unsupportedEncoding, out);
    this.skipping = batch.endsWithReadyForQuery ? false : this.skipping || batch.errorAfterReadyForQuery;
    this.atSync = batch.endsWithReadyForQuery;
    if (batch.protocolViolation) this.events.fatal(new EngineError('08P01', 'terminating connection because protocol synchronization was lost'));
    const holdEnds = this.atSync && batch.status === 'I';
    try {
      if (holdEnds) await this.endHold();
    } finally {
      batch.finish(true);
      if (holdEnds && !this.keepsBackend) this.engine.lock.release(this);
    }
  }

  private async sideQueryNow(sql: string, keepBackend: boolean): Promise<SideQueryRows | undefined> {
    if (this.lostWith || this.closing) return undefined;
    await this.takeForStatement();
    this.keepsBackend = keepBackend;
    try {
      if (this.copyIn || this.skipping || this.failedBlock || this.sideError) return undefined;
      const out = await this.engine.internal(sideQueryMessages(sql, this.atSync));
      const error = out.find((m): m is ErrorResponse => m.type === 'ErrorResponse');
      if (!error) return rowsOf(out);
      // Only a statement_timeout shorter than the query should get here. Where the failure
      // changed what the client's next statement meets, the client hears of it with that statement.
      if (this.atSync) {
        const ready = out[out.length - 1];
        if (ready?.type === 'ReadyForQuery') this.observe(ready);
      } else this.skipping = true;
      if (this.skipping || this.failedBlock) this.sideError = error;
      return undefined;
    } finally {
      if (!keepBackend && this.atSync && this.status === 'I' && !this.copyIn) this.engine.lock.release(this);
    }
  }

  /**
   * Input for a COPY in progress: the copy messages up to CopyDone or CopyFail, then whatever
   * follows, prepared like any run. A message PostgreSQL does not accept in copy-in would end the
   * shared backend with FATAL; it fails the COPY instead, and the output filter turns that into
   * PostgreSQL's answer (an 08P01 error, then the session ends).
   */
  private copyInput(messages: readonly FrontendMessage[], batch: OutputFilter): FrontendMessage[] {
    const out: FrontendMessage[] = [];
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      if (!COPY_INPUT.has(m.type)) {
        batch.violation = fillErrorText(STATE_MACHINE.errors.unexpectedDuringCopyIn.message, { byte: MESSAGES[m.type]?.typeByte?.charCodeAt(0) ?? 0 });
        out.push({ type: 'CopyFail', message: batch.violation });
        return out;
      }
      out.push(m);
      if (m.type === 'CopyDone' || m.type === 'CopyFail') {
        // Whether the COPY came from a Query or an extended batch, what follows needs no Sync first.
        return out.concat(this.prepare(messages.slice(i + 1), batch, false));
      }
    }
    return out;
  }

  /** The messages to send for a client's run: statement names mapped, the engine's pending Closes first. */
  private prepare(messages: readonly FrontendMessage[], batch: OutputFilter, mayAddSync = true): FrontendMessage[] {
    const out: FrontendMessage[] = [];
    if (this.atSync && mayAddSync) {
      for (const name of this.names.takeStale()) out.push({ type: 'Close', target: 'S', name });
      batch.ownCloses = out.length;
    }
    messages.forEach((m, i) => {
      switch (m.type) {
        case 'Parse':
          this.noteText(m.query);
          out.push(this.names.parse(m));
          break;
        case 'Bind':
          out.push({ ...m, statement: this.names.reference(m.statement) });
          break;
        case 'Describe':
          out.push(m.target === 'S' ? { ...m, name: this.names.reference(m.name) } : m);
          break;
        case 'Close':
          out.push(m.target === 'S' ? { ...m, name: this.names.close(m.name) } : m);
          break;
        case 'Query':
          this.noteText(m.query);
          this.names.query();
          if (mayAddSync) this.syncFirst(i, out, batch);
          out.push({ type: 'Query', query: this.names.rewriteDeallocate(m.query) });
          break;
        case 'FunctionCall':
          if (mayAddSync) this.syncFirst(i, out, batch);
          out.push(m);
          break;
        case 'Terminate':
          break; // PGlite would end the shared backend; the runtime closes the session instead
        default:
          out.push(m);
      }
    });
    return out;
  }

  /**
   * A simple Query (or FunctionCall) after extended messages without their Sync: PostgreSQL
   * commits the open implicit transaction, but PGlite leaves it open and reports 'T' from then on
   * (which later breaks every session). A Sync first, its ReadyForQuery dropped, closes it the
   * same way. In skip-until-Sync mode PostgreSQL ignores the Query, so nothing is added then.
   */
  private syncFirst(index: number, out: FrontendMessage[], batch: OutputFilter): void {
    if (index !== 0 || this.atSync || this.skipping) return;
    out.push({ type: 'Sync' });
    batch.ownSyncs = 1;
  }

  /**
   * PGlite lacks the encoding conversion modules: converting text to another client encoding
   * crashes the WASM, ending every session. A client_encoding the session just set is therefore
   * put back to UTF8 at once (its ParameterStatus was not passed on) and the client warned.
   */
  private async refuseEncoding(encoding: string, out: BackendSink): Promise<void> {
    await this.engine.internal([{ type: 'Query', query: "SET client_encoding TO 'UTF8'" }]);
    this.settingsMayChange = true;
    out.send({
      type: 'NoticeResponse',
      fields: [
        { code: 'S', value: 'WARNING' },
        { code: 'V', value: 'WARNING' },
        { code: 'C', value: '0A000' },
        { code: 'M', value: `client_encoding "${encoding}" is not supported by the PGlite engine; it stays UTF8` },
      ],
    });
  }

  private noteText(sql: string): void {
    if (mayChangeSettings(sql)) this.settingsMayChange = true;
    for (const c of listenedChannels(sql)) this.namedChannels.add(c);
  }

  /** Called by the output filter for each message PostgreSQL sent this session. */
  observe(m: BackendMessage): void {
    if (m.type === 'ReadyForQuery') {
      this.status = m.status === 'T' ? 'T' : m.status === 'E' ? 'E' : 'I';
      this.failedBlock = m.status === 'E';
    } else if (m.type === 'CommandComplete' && m.tag === 'ROLLBACK') this.failedBlock = false;
    if (changesSettings(m)) this.settingsMayChange = true;
    if (changesListening(m)) this.listeningMayChange = true;
    if (m.type === 'CommandComplete' && (m.tag === 'DEALLOCATE ALL' || m.tag === 'DISCARD ALL')) this.droppedAllStatements = true;
  }

  unmap(text: string): string {
    return this.names.unmap(text);
  }

  /**
   * Whether a ParameterStatus tells the client something new. PostgreSQL reports a parameter only
   * when its value differs from the one it last reported; PGlite reports a SET to the same value
   * again, so the session compares with what its own client was last told.
   */
  reportsNew(m: ParameterStatus): boolean {
    if (this.reported.get(m.name) === m.value) return false;
    this.reported.set(m.name, m.value);
    return true;
  }

  /** Delivers a notification this session's command committed to every session listening on its channel. */
  route(n: NotificationResponse, out: BackendSink): void {
    const m: NotificationResponse = { type: 'NotificationResponse', processId: this.start.processId, channel: n.channel, payload: n.payload };
    const listeners = this.engine.listeners.subscribers(n.channel);
    if (!listeners) return;
    for (const s of listeners) {
      if (s === this) out.send(m);
      else s.notify(m);
    }
  }

  private notify(m: NotificationResponse): void {
    if (!this.closing && !this.lostWith) this.events.asyncMessage(m);
  }

  // ---- holding the backend ---------------------------------------------------------------------------

  /** Waits for the backend; on taking it, gives it this session's settings. */
  private async take(): Promise<void> {
    const lock = this.engine.lock;
    if (lock.holder === this) return;
    await lock.acquire(this);
    this.atSync = true;
    try {
      await this.engine.switchSettings(this.settings);
    } catch (e) {
      lock.release(this);
      throw e instanceof EngineError ? e : new EngineError('XX000', (e as Error).message);
    }
  }

  /** take(), for a client's statement about to run: a CancelRequest meanwhile cancels it once it starts. */
  private async takeForStatement(): Promise<void> {
    this.starting = true;
    try {
      await this.take();
    } finally {
      this.starting = false;
    }
  }

  /** The session's transaction is over: record what it changed before another session runs. */
  private async endHold(): Promise<void> {
    const engine = this.engine;
    if (this.listeningMayChange) {
      const before = engine.listeners.inBackend();
      const after = new Set((await engine.rows('select pg_listening_channels()::text')).map((r) => r[0] ?? ''));
      await engine.listen(engine.listeners.reconcile(this, before, after, this.namedChannels));
    }
    if (this.droppedAllStatements) {
      this.names.forgetAll();
      for (const other of engine.sessions) if (other !== this) await other.restoreStatements();
    }
    if (this.settingsMayChange) {
      this.settings = await this.readSettings();
      engine.settingsAre(this.settings);
    }
    this.listeningMayChange = this.settingsMayChange = this.droppedAllStatements = false;
    this.namedChannels.clear();
  }

  private async readSettings(): Promise<Settings> {
    const rows = await this.engine.rows(captureSettingsSql(this.engine.baseUser));
    return rows.map((r) => [r[0] ?? '', r[1] ?? ''] as const);
  }

  /** Parses this session's statements again after another session dropped every statement. */
  private async restoreStatements(): Promise<void> {
    const parses = this.names.restorable();
    if (parses.length === 0) return;
    await this.engine.internal(parses.flatMap((p) => [p, { type: 'Sync' } as const]));
  }

  // ---- the end --------------------------------------------------------------------------------------

  private async closeNow(): Promise<void> {
    const engine = this.engine;
    engine.lock.withdraw(this, new EngineError('08006', 'the session is closed'));
    if (this.running) engine.thread.cancel();
    await this.inFlight;
    engine.forget(this);
    if (this.lostWith || engine.thread.crashed !== undefined) return;
    const holding = engine.lock.holder === this;
    const statements = this.names.all();
    const channels = engine.listeners.of(this).size > 0;
    // Settings need nothing: the next session to hold the backend switches them to its own.
    if (!holding && !channels && statements.length === 0) return;
    try {
      if (!holding) await this.take();
      await this.abortOpenWork();
      const cleanup: FrontendMessage[] = statements.map((name) => ({ type: 'Close', target: 'S', name }));
      const unused = engine.listeners.remove(this);
      if (unused.length > 0) cleanup.push({ type: 'Query', query: unused.map((c) => `UNLISTEN ${quoteIdent(c)}`).join('; ') });
      cleanup.push({ type: 'Sync' });
      await engine.internal(cleanup);
    } catch {
      // The backend is gone or the cleanup failed; either way this session is over.
    } finally {
      engine.lock.release(this);
    }
  }

  /** Ends whatever the client left open: a COPY, an extended batch without Sync, a transaction. */
  private async abortOpenWork(): Promise<void> {
    const engine = this.engine;
    const abort: FrontendMessage[] = [];
    if (!this.atSync || this.copyIn) abort.push({ type: 'Execute', portal: NO_SUCH_PORTAL, maxRows: 0 }, { type: 'Sync' });
    abort.push({ type: 'Query', query: 'ROLLBACK' });
    if (this.copyIn) {
      this.copyIn = false;
      const end = await engine.thread.feed(encodeMessages([{ type: 'CopyFail', message: 'client disconnected' }, ...abort]), () => undefined);
      if (end !== 'done') throw new EngineError('XX000', 'COPY did not end');
      return;
    }
    await engine.internal(abort);
  }
}

/** Client encodings PGlite can serve: UTF8 itself and SQL_ASCII (no conversion), spelled as PostgreSQL accepts them. */
function supportedEncoding(name: string): boolean {
  const clean = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return clean === 'utf8' || clean === 'unicode' || clean === 'sqlascii';
}

/** The messages PostgreSQL accepts in copy-in; anything else there ends the backend with FATAL, so it fails the COPY instead. */
const COPY_INPUT = new Set(['CopyData', 'CopyDone', 'CopyFail', 'Flush', 'Sync']);

/** The ErrorResponse of the COPY the engine failed, turned into the one PostgreSQL sends for an unexpected message. */
function violationFields(fields: readonly ErrorResponseField[], message: string): ErrorResponseField[] {
  return fields.flatMap((f) => {
    if (f.code === 'C') return [{ code: 'C', value: '08P01' }];
    if (f.code === 'M') return [{ code: 'M', value: message }];
    if (f.code === 'F' || f.code === 'L' || f.code === 'R') return [];
    return [f];
  });
}

/**
 * Decodes one call's output and passes it on: drops the CloseCompletes of the engine's own Closes,
 * puts client statement names back into errors, and holds notifications (which come just before
 * ReadyForQuery) until the session has recorded its LISTENs, so they are routed correctly.
 */
class OutputFilter {
  private readonly decoder = new BackendDecoder();
  /** CloseCompletes still to drop: the answers to the engine's Closes at the start of the call. */
  ownCloses = 0;
  /** ReadyForQuery messages to drop: the answer to a Sync the engine put first. */
  ownSyncs = 0;
  /** The client sent a message PostgreSQL does not accept in copy-in: its COPY is failed, then the session ends, as in PostgreSQL. */
  violation: string | undefined;
  protocolViolation = false;
  status: string | undefined;
  endsWithReadyForQuery = false;
  errorAfterReadyForQuery = false;
  /** A client_encoding PGlite cannot convert to, which the session just set. */
  unsupportedEncoding: string | undefined;
  private held: BackendMessage[] | undefined;

  constructor(
    private readonly session: PgliteSession,
    private readonly out: BackendSink,
  ) {}

  /** Takes a piece of output; for a piece of a call still running, resolves when the client has room. */
  push(bytes: Uint8Array, more: boolean): Promise<void> | undefined {
    this.decoder.push(bytes);
    for (let m = this.decoder.next(); m !== undefined; m = this.decoder.next()) this.pass(m);
    return more ? this.out.drained?.() : undefined;
  }

  /** Sends the held messages; notifications are routed only once the transaction is over. */
  finish(route: boolean): void {
    const held = this.held;
    this.held = undefined;
    if (!held) return;
    for (const m of held) {
      if (m.type === 'NotificationResponse') {
        if (route) this.session.route(m, this.out);
      } else this.out.send(m);
    }
  }

  private pass(m: BackendMessage): void {
    if (this.ownCloses > 0 && m.type === 'CloseComplete') {
      this.ownCloses--;
      return;
    }
    this.ownCloses = 0;
    if (this.ownSyncs > 0 && m.type === 'ReadyForQuery') {
      this.ownSyncs--;
      return;
    }
    if (this.violation !== undefined) {
      // PostgreSQL reports the unexpected message, then ends the session with FATAL.
      if (m.type === 'ReadyForQuery') return;
      if (m.type === 'ErrorResponse') m = { ...m, fields: violationFields(m.fields, this.violation) };
      this.protocolViolation = true;
    }
    if (m.type === 'ParameterStatus' && m.name === 'client_encoding' && !supportedEncoding(m.value)) {
      this.unsupportedEncoding = m.value;
      return;
    }
    if (m.type === 'ParameterStatus' && !this.session.reportsNew(m)) return;
    this.endsWithReadyForQuery = m.type === 'ReadyForQuery';
    if (m.type === 'ErrorResponse') this.errorAfterReadyForQuery = true;
    else if (m.type === 'ReadyForQuery') this.errorAfterReadyForQuery = false;
    if (m.type === 'ReadyForQuery') this.status = m.status;
    this.session.observe(m);
    if (m.type === 'ErrorResponse' || m.type === 'NoticeResponse') m = { ...m, fields: this.unmap(m.fields) };
    if (m.type === 'NotificationResponse') this.held ??= [];
    if (this.held) this.held.push(m);
    else this.out.send(m);
  }

  private unmap(fields: readonly ErrorResponseField[]): ErrorResponseField[] {
    return fields.map((f) => (f.value.includes('__pgspec_') ? { code: f.code, value: this.session.unmap(f.value) } : f));
  }
}
