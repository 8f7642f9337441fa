/**
 * The handler engine: the extended and simple query protocols, COPY and transaction status,
 * implemented once over a handler that only prepares and executes SQL (see api.ts).
 *
 * Per session it keeps the named and unnamed prepared statements and portals. A portal holds the
 * handler's row source, so an Execute with a row limit stops exactly at the limit
 * (PortalSuspended, without looking ahead) and the next Execute resumes it. After an error in
 * the extended protocol every message up to Sync is skipped: the runtime hands over runs of
 * messages that were accepted before the error was sent, so the engine skips within a run itself.
 */
import { Buffer } from 'node:buffer';
import { DATA_TYPES, type BackendMessage, type FrontendMessage, type Bind, type Parse } from '../../../generated/index.js';
import type { BackendSink, CopyInterruption, Engine, EngineSession, MalformedMessage, SessionEvents, SessionStart } from '../../engine.js';
import { EngineError } from '../../engine.js';
import { errorResponse, noticeResponse, type ErrorInfo } from '../../protocol/error-fields.js';
import { ValueError } from '../../values/index.js';
import { ValueList } from '../../wire/index.js';
import {
  HandlerError,
  type Column,
  type ExecuteResult,
  type HandlerContext,
  type HandlerEngineOptions,
  type Handlers,
  type Row,
  type Rows,
  type TransactionStatus,
} from './api.js';
import { AsyncQueue } from './async-queue.js';
import { resolveColumn, resolveType, type ResolvedColumn, type ResolvedType } from './columns.js';
import { copyHeader, copyTrailer, CopyRowReader, encodeCopyRow, type CopyFormat } from './copy-format.js';
import { classifyStatement, copyFormatOf, countPlaceholders, splitStatements, type StatementKind } from './sql-text.js';

/** Queued COPY rows beyond this make the engine wait for the handler before reading more. */
const COPY_QUEUE_HIGH_WATER = 10_000;

export class HandlerEngine<Plan = unknown> implements Engine {
  readonly name: string;
  private readonly sessions = new Set<HandlerSession>();

  constructor(
    private readonly handlers: Handlers<Plan>,
    private readonly options: HandlerEngineOptions = {},
  ) {
    this.name = options.name ?? 'handlers';
  }

  async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
    const session = new HandlerSession(this.handlers as Handlers<unknown>, this.options, start, events, () => this.sessions.delete(session));
    this.sessions.add(session);
    await session.open();
    return session;
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.close()));
  }
}

interface Statement {
  readonly sql: string;
  readonly kind: StatementKind;
  readonly parameterTypes: readonly ResolvedType[];
  readonly columns: readonly Column[];
  readonly resolved: readonly ResolvedColumn[];
  readonly plan: unknown;
}

interface Portal {
  readonly name: string;
  readonly statement: Statement;
  readonly parameters: readonly unknown[];
  /** Result format per column. */
  readonly formats: readonly number[];
  result: ExecuteResult | undefined;
  rows: RowSource | undefined;
  done: boolean;
}

interface CopyInState {
  readonly mode: 'simple' | 'extended';
  readonly reader: CopyRowReader;
  readonly queue: AsyncQueue<unknown[]>;
  readonly finished: Promise<number | void>;
  failure: { error: unknown } | undefined;
  rowsRead: number;
  /** Statements of the same simple Query still to run after the COPY. */
  readonly rest: readonly string[];
}

/** Pulls rows from an array, an iterable or an async iterable; sync sources are not awaited per row. */
class RowSource {
  private readonly sync: Iterator<Row> | undefined;
  private readonly async: AsyncIterator<Row> | undefined;

  constructor(rows: Rows) {
    if (Symbol.asyncIterator in rows) this.async = (rows as AsyncIterable<Row>)[Symbol.asyncIterator]();
    else this.sync = (rows as Iterable<Row>)[Symbol.iterator]();
  }

  next(): IteratorResult<Row> | Promise<IteratorResult<Row>> {
    return this.sync ? this.sync.next() : this.async!.next();
  }

  /** Lets the handler release what the rows hold (a generator's finally, a cursor). */
  close(): void {
    try {
      const r = this.sync ? this.sync.return?.() : this.async!.return?.();
      if (r instanceof Promise) r.catch(() => undefined);
    } catch {
      // The handler's cleanup failing does not concern the client.
    }
  }
}

const TEXT = resolveType(DATA_TYPES.text.oid);
const NO_ROWS: Rows = [];

/** The messages after whose error PostgreSQL skips to Sync (its doing_extended_query_message). */
const EXTENDED_QUERY = new Set<string>(['Parse', 'Bind', 'Describe', 'Execute', 'Close', 'Flush']);
/** COPY messages outside COPY: PostgreSQL drops them unread, so a bad body there is no error. */
const COPY_STREAM = new Set<string>(['CopyData', 'CopyDone', 'CopyFail']);

class HandlerSession implements EngineSession {
  readonly parameterStatus: ReadonlyArray<readonly [string, string]>;
  private readonly statements = new Map<string, Statement>();
  private readonly portals = new Map<string, Portal>();
  private readonly ctx: HandlerContext;
  private readonly state = new Map<string, unknown>();
  private controller = new AbortController();
  private out: BackendSink | undefined;
  private inBlock = false;
  private failed = false;
  private skipping = false;
  private copyIn: CopyInState | undefined;
  private closed = false;

  constructor(
    private readonly handlers: Handlers<unknown>,
    private readonly options: HandlerEngineOptions,
    readonly start: SessionStart,
    private readonly events: SessionEvents,
    private readonly onClose: () => void,
  ) {
    const defaults: Record<string, string> = {
      server_version: '15.0 (pgspec handlers)',
      server_encoding: 'UTF8',
      client_encoding: 'UTF8',
      DateStyle: 'ISO, MDY',
      IntervalStyle: 'postgres',
      TimeZone: 'UTC',
      integer_datetimes: 'on',
      standard_conforming_strings: 'on',
      is_superuser: 'off',
      session_authorization: start.user,
      application_name: start.parameters.application_name ?? '',
      default_transaction_read_only: 'off',
      in_hot_standby: 'off',
    };
    this.parameterStatus = Object.entries({ ...defaults, ...options.parameterStatus });
    const session = this;
    this.ctx = {
      session: start,
      get transactionStatus() {
        return session.status;
      },
      get signal() {
        return session.controller.signal;
      },
      state: this.state,
      notice: (severity, message, code = '00000') => this.send(noticeResponse({ severity, code, message })),
    };
  }

  private get status(): TransactionStatus {
    return this.failed ? 'E' : this.inBlock ? 'T' : 'I';
  }

  async open(): Promise<void> {
    await this.handlers.open?.(this.ctx);
  }

  cancel(): void {
    this.controller.abort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.controller.abort();
    this.copyIn?.queue.fail(new HandlerError('08006', 'the client disconnected during COPY'));
    this.copyIn = undefined;
    this.closePortals();
    try {
      if (this.inBlock && this.options.transactions !== 'handler') await this.handlers.rollback?.(this.ctx);
      await this.handlers.close?.(this.ctx);
    } finally {
      this.onClose();
    }
  }

  private send(m: BackendMessage): void {
    this.out?.send(m);
  }

  async execute(messages: readonly FrontendMessage[], out: BackendSink): Promise<void> {
    this.out = out;
    for (const m of messages) {
      if (this.copyIn) {
        await this.copyMessage(this.copyIn, m);
        continue;
      }
      if (this.skipping && m.type !== 'Sync') continue;
      switch (m.type) {
        case 'Query':
          await this.simpleQuery(m.query);
          break;
        case 'Sync':
          this.sync();
          break;
        case 'FunctionCall':
          this.send(errorResponse({ severity: 'ERROR', code: '0A000', message: 'the function call interface is not supported' }));
          this.readyForQuery();
          break;
        case 'Parse':
        case 'Bind':
        case 'Describe':
        case 'Execute':
        case 'Close':
          try {
            await this.extended(m);
          } catch (err) {
            this.fail(err);
            this.skipping = true;
          }
          break;
        default:
          // Flush needs nothing from the engine; COPY messages outside COPY are ignored, as PostgreSQL does.
          break;
      }
    }
  }

  /**
   * A message PostgreSQL does not take during COPY FROM STDIN: the handler stops reading and the
   * COPY fails with PostgreSQL's error for it; nothing more is sent, since the runtime ends the
   * session with a FATAL next.
   */
  async copyInterrupted(interruption: CopyInterruption, out: BackendSink): Promise<void> {
    this.out = out;
    const state = this.copyIn;
    if (state === undefined) return;
    const error = new HandlerError(interruption.error.code, interruption.error.message);
    state.queue.fail(error);
    await state.finished.catch(() => undefined);
    this.copyIn = undefined;
    this.fail(error);
  }

  /**
   * A message whose body did not decode, answered as PostgreSQL answers one: while skipping to
   * Sync it is not even read; during COPY it fails the COPY; otherwise its error goes out, an open
   * block fails, and a Query, FunctionCall or Sync still gets its ReadyForQuery while an
   * extended-query message starts the skip to Sync.
   */
  async malformed(message: MalformedMessage, out: BackendSink): Promise<void> {
    this.out = out;
    const error = new HandlerError(message.error.code, message.error.message);
    if (this.copyIn) {
      const state = this.copyIn;
      state.queue.fail(error);
      await state.finished.catch(() => undefined);
      this.copyFailed(state, error);
      return;
    }
    if (COPY_STREAM.has(message.type) || (this.skipping && message.type !== 'Sync')) return;
    this.skipping = false;
    this.fail(error);
    if (EXTENDED_QUERY.has(message.type)) {
      this.skipping = true;
      return;
    }
    // The statement's implicit transaction is gone with it, and its portals.
    this.closePortal('');
    if (!this.inBlock) this.closePortals();
    this.readyForQuery();
  }

  // ---- errors and transaction status --------------------------------------------------------------

  private errorInfo(err: unknown): ErrorInfo {
    if (err instanceof HandlerError) {
      return { severity: err.extra.severity ?? 'ERROR', code: err.code, message: err.message, detail: err.detail, hint: err.extra.hint, position: err.extra.position };
    }
    if (err instanceof ValueError) return { severity: 'ERROR', code: err.sqlstate, message: err.message };
    if (err instanceof EngineError) return { severity: 'FATAL', code: err.sqlstate, message: err.message };
    return { severity: 'ERROR', code: 'XX000', message: err instanceof Error ? err.message : String(err) };
  }

  /** Reports a failed statement: the error goes out and an open transaction block is marked failed. */
  private fail(err: unknown): void {
    const info = this.errorInfo(err);
    if (info.severity === 'FATAL') {
      this.events.fatal(new EngineError(info.code, info.message));
      return;
    }
    this.send(errorResponse(info));
    if (this.inBlock) this.failed = true;
  }

  private readyForQuery(): void {
    this.send({ type: 'ReadyForQuery', status: this.status });
  }

  private sync(): void {
    this.skipping = false;
    this.closePortal('');
    // Outside a block the batch was an implicit transaction, and its end closes every portal.
    if (!this.inBlock) this.closePortals();
    this.readyForQuery();
  }

  private closePortal(name: string): void {
    const p = this.portals.get(name);
    if (!p) return;
    p.rows?.close();
    this.portals.delete(name);
  }

  private closePortals(): void {
    for (const name of [...this.portals.keys()]) this.closePortal(name);
  }

  private abortedCheck(kind: StatementKind): void {
    if (this.failed && kind.kind !== 'commit' && kind.kind !== 'rollback' && kind.kind !== 'rollbackTo') {
      throw new HandlerError('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
    }
  }

  private enginesTransactions(kind: StatementKind): boolean {
    return this.options.transactions !== 'handler' && ['begin', 'commit', 'rollback', 'savepoint', 'release', 'rollbackTo'].includes(kind.kind);
  }

  /** Runs a transaction command the engine owns; returns its command tag. */
  private async transactionCommand(kind: StatementKind): Promise<string> {
    const warn = (code: string, message: string): void => this.send(noticeResponse({ severity: 'WARNING', code, message }));
    switch (kind.kind) {
      case 'begin':
        if (this.inBlock) warn('25001', 'there is already a transaction in progress');
        else {
          await this.handlers.begin?.(this.ctx);
          this.inBlock = true;
        }
        return kind.tag;
      case 'commit':
      case 'rollback': {
        if (!this.inBlock) {
          warn('25P01', 'there is no transaction in progress');
          return kind.kind === 'commit' ? 'COMMIT' : 'ROLLBACK';
        }
        const rollingBack = kind.kind === 'rollback' || this.failed;
        this.endBlock();
        if (rollingBack) await this.handlers.rollback?.(this.ctx);
        else await this.handlers.commit?.(this.ctx);
        return rollingBack ? 'ROLLBACK' : 'COMMIT';
      }
      case 'savepoint':
      case 'release':
      case 'rollbackTo':
        if (!this.inBlock) throw new HandlerError('25P01', `${kind.kind === 'savepoint' ? 'SAVEPOINT' : kind.kind === 'release' ? 'RELEASE SAVEPOINT' : 'ROLLBACK TO SAVEPOINT'} can only be used in transaction blocks`);
        if (kind.kind === 'rollbackTo') this.failed = false;
        return kind.kind === 'savepoint' ? 'SAVEPOINT' : kind.kind === 'release' ? 'RELEASE' : 'ROLLBACK';
      default:
        throw new Error(`not a transaction command: ${kind.kind}`);
    }
  }

  /** The end of a transaction block closes its portals. */
  private endBlock(): void {
    this.inBlock = false;
    this.failed = false;
    this.closePortals();
  }

  /** A handler that manages transactions reports them through tags or an explicit status. */
  private followHandlerStatus(kind: StatementKind, tag: string, result: ExecuteResult): void {
    if (result.transactionStatus !== undefined) {
      const wasBlock = this.inBlock;
      this.inBlock = result.transactionStatus !== 'I';
      this.failed = result.transactionStatus === 'E';
      if (wasBlock && !this.inBlock) this.closePortals();
      return;
    }
    if (kind.kind === 'begin' || tag === 'BEGIN' || tag === 'START TRANSACTION') this.inBlock = true;
    else if (kind.kind === 'commit' || kind.kind === 'rollback' || tag === 'COMMIT' || tag === 'ROLLBACK') this.endBlock();
  }

  private newStatementSignal(): void {
    if (this.controller.signal.aborted) this.controller = new AbortController();
  }

  private checkCancel(): void {
    if (this.controller.signal.aborted) throw new HandlerError('57014', 'canceling statement due to user request');
  }

  // ---- simple query -------------------------------------------------------------------------------

  private async simpleQuery(sql: string): Promise<void> {
    this.closePortal('');
    this.statements.delete('');
    const statements = splitStatements(sql);
    if (statements.length === 0) {
      this.send({ type: 'EmptyQueryResponse' });
      this.readyForQuery();
      return;
    }
    await this.runSimple(statements);
  }

  /** Runs statements of a simple Query in order; a COPY FROM STDIN pauses them until its data is in. */
  private async runSimple(statements: readonly string[]): Promise<void> {
    for (let i = 0; i < statements.length; i++) {
      this.newStatementSignal();
      try {
        const kind = classifyStatement(statements[i]!);
        this.abortedCheck(kind);
        if (kind.kind === 'copyIn') {
          await this.startCopyIn(statements[i]!, 'simple', statements.slice(i + 1));
          return;
        }
        await this.simpleStatement(statements[i]!, kind);
      } catch (err) {
        this.fail(err);
        break;
      }
    }
    // Outside a block each Query is its own transaction, and its end closes the portals.
    if (!this.inBlock) this.closePortals();
    this.readyForQuery();
  }

  private async simpleStatement(sql: string, kind: StatementKind): Promise<void> {
    if (this.enginesTransactions(kind)) {
      this.send({ type: 'CommandComplete', tag: await this.transactionCommand(kind) });
      return;
    }
    if (kind.kind === 'copyOut') {
      await this.copyOut(sql);
      return;
    }
    if (this.handlers.query) {
      const answer = await this.handlers.query(sql, this.ctx);
      for (const result of Array.isArray(answer) ? (answer as ExecuteResult[]) : [answer as ExecuteResult]) {
        const columns = ((result as { columns?: readonly Column[] }).columns ?? []).map(resolveColumn);
        if (columns.length > 0) this.send({ type: 'RowDescription', columns: columns.map((c) => ({ ...c.description, format: 0 })) });
        const tag = await this.sendRows(new RowSource(result.rows ?? NO_ROWS), columns, columns.map(() => 0), 0, sql, result, true);
        if (tag !== undefined && this.options.transactions === 'handler') this.followHandlerStatus(kind, tag, result);
      }
      return;
    }
    const statement = await this.prepare(sql, []);
    if (statement.parameterTypes.length > 0) throw new HandlerError('42P02', 'there is no parameter $1');
    const portal = this.bindPortal('', statement, [], statement.resolved.map(() => 0));
    if (statement.resolved.length > 0) this.send({ type: 'RowDescription', columns: statement.resolved.map((c) => ({ ...c.description, format: 0 })) });
    await this.executePortal(portal, 0);
    this.closePortal('');
  }

  // ---- extended query -----------------------------------------------------------------------------

  private async extended(m: Parse | Bind | Extract<FrontendMessage, { type: 'Describe' | 'Execute' | 'Close' }>): Promise<void> {
    switch (m.type) {
      case 'Parse': {
        if (m.statement !== '' && this.statements.has(m.statement)) throw new HandlerError('42P05', `prepared statement "${m.statement}" already exists`);
        this.statements.set(m.statement, await this.prepare(m.query, m.parameterTypes));
        this.send({ type: 'ParseComplete' });
        return;
      }
      case 'Bind': {
        const statement = this.statements.get(m.statement);
        if (!statement) throw new HandlerError('26000', m.statement === '' ? 'unnamed prepared statement does not exist' : `prepared statement "${m.statement}" does not exist`);
        if (m.portal !== '' && this.portals.has(m.portal)) throw new HandlerError('42P03', `cursor "${m.portal}" already exists`);
        this.abortedCheck(statement.kind);
        const parameters = this.decodeParameters(m, statement);
        const formats = resultFormats(m.resultFormats, statement.resolved.length);
        this.closePortal(m.portal);
        this.bindPortal(m.portal, statement, parameters, formats);
        this.send({ type: 'BindComplete' });
        return;
      }
      case 'Describe': {
        if (m.target === 'S') {
          const statement = this.statements.get(m.name);
          if (!statement) throw new HandlerError('26000', m.name === '' ? 'unnamed prepared statement does not exist' : `prepared statement "${m.name}" does not exist`);
          this.send({ type: 'ParameterDescription', parameterTypes: statement.parameterTypes.map((t) => t.oid) });
          this.describeColumns(statement.resolved, statement.resolved.map(() => 0));
        } else {
          const portal = this.portals.get(m.name);
          if (!portal) throw new HandlerError('34000', `portal "${m.name}" does not exist`);
          this.describeColumns(portal.statement.resolved, portal.formats);
        }
        return;
      }
      case 'Execute': {
        const portal = this.portals.get(m.portal);
        if (!portal) throw new HandlerError('34000', `portal "${m.portal}" does not exist`);
        this.newStatementSignal();
        const kind = portal.statement.kind;
        this.abortedCheck(kind);
        if (kind.kind === 'empty') this.send({ type: 'EmptyQueryResponse' });
        else if (this.enginesTransactions(kind)) {
          if (!portal.done) this.send({ type: 'CommandComplete', tag: await this.transactionCommand(kind) });
          portal.done = true;
        } else if (kind.kind === 'copyIn') await this.startCopyIn(portal.statement.sql, 'extended', []);
        else if (kind.kind === 'copyOut') await this.copyOut(portal.statement.sql);
        else await this.executePortal(portal, m.maxRows);
        return;
      }
      case 'Close':
        if (m.target === 'S') this.statements.delete(m.name);
        else this.closePortal(m.name);
        this.send({ type: 'CloseComplete' });
        return;
    }
  }

  private describeColumns(columns: readonly ResolvedColumn[], formats: readonly number[]): void {
    if (columns.length === 0) this.send({ type: 'NoData' });
    else this.send({ type: 'RowDescription', columns: columns.map((c, i) => ({ ...c.description, format: formats[i] ?? 0 })) });
  }

  private async prepare(sql: string, clientTypes: readonly number[]): Promise<Statement> {
    const kind = classifyStatement(sql);
    this.abortedCheck(kind);
    const own = kind.kind === 'empty' || kind.kind === 'copyIn' || kind.kind === 'copyOut' || this.enginesTransactions(kind);
    const prepared = own ? {} : await this.handlers.prepare(sql, clientTypes, this.ctx);
    const count = Math.max(clientTypes.length, prepared.parameterTypes?.length ?? countPlaceholders(sql));
    const parameterTypes: ResolvedType[] = [];
    // Types the client fixed in Parse win, as in PostgreSQL; the handler's fill the rest; text the remainder.
    for (let i = 0; i < count; i++) {
      const fixed = clientTypes[i];
      const ref = fixed ? fixed : prepared.parameterTypes?.[i];
      parameterTypes.push(ref === undefined ? TEXT : resolveType(ref));
    }
    const columns = prepared.columns ?? [];
    return { sql, kind, parameterTypes, columns, resolved: columns.map(resolveColumn), plan: prepared.plan };
  }

  private decodeParameters(m: Bind, statement: Statement): unknown[] {
    const n = statement.parameterTypes.length;
    if (m.parameters.length !== n) {
      throw new HandlerError('08P01', `bind message supplies ${m.parameters.length} parameters, but prepared statement "${m.statement}" requires ${n}`);
    }
    const formats = m.parameterFormats;
    if (formats.length > 1 && formats.length !== n) throw new HandlerError('08P01', `bind message has ${formats.length} parameter formats but ${n} parameters`);
    const values: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : formats[i]!;
      const type = statement.parameterTypes[i]!;
      if (m.parameters.isNull(i)) values.push(null);
      else if (format === 0) values.push(type.decodeText(m.parameters.text(i)!));
      else if (format === 1) {
        try {
          values.push(type.decodeBinary(m.parameters.get(i)!));
        } catch (err) {
          if (err instanceof ValueError) throw new HandlerError('22P03', `incorrect binary data format in bind parameter ${i + 1}`, err.message);
          throw err;
        }
      } else throw new HandlerError('08P01', `unsupported format code: ${format}`);
    }
    return values;
  }

  private bindPortal(name: string, statement: Statement, parameters: readonly unknown[], formats: readonly number[]): Portal {
    const portal: Portal = { name, statement, parameters, formats, result: undefined, rows: undefined, done: false };
    this.portals.set(name, portal);
    return portal;
  }

  /** Runs (or resumes) a portal up to `maxRows` rows (0: all). */
  private async executePortal(portal: Portal, maxRows: number): Promise<void> {
    const statement = portal.statement;
    if (portal.done) {
      this.send({ type: 'CommandComplete', tag: tagOf(statement.sql, statement.resolved.length > 0, portal.result, 0) });
      return;
    }
    if (portal.result === undefined) {
      portal.result = await this.handlers.execute(
        {
          sql: statement.sql,
          parameters: portal.parameters,
          parameterTypes: statement.parameterTypes.map((t) => t.oid),
          columns: statement.columns,
          plan: statement.plan,
          name: portal.name,
        },
        { maxRows },
        this.ctx,
      );
      portal.rows = new RowSource(portal.result.rows ?? NO_ROWS);
    }
    const tag = await this.sendRows(portal.rows!, statement.resolved, portal.formats, maxRows, statement.sql, portal.result, statement.resolved.length > 0);
    if (tag !== undefined) {
      portal.done = true;
      portal.rows!.close();
      if (this.options.transactions === 'handler') this.followHandlerStatus(statement.kind, tag, portal.result);
    }
  }

  /**
   * Sends rows until the source ends (CommandComplete; returns the tag) or `maxRows` rows went
   * out (PortalSuspended; returns undefined), without reading a row beyond the limit.
   */
  private async sendRows(
    source: RowSource,
    columns: readonly ResolvedColumn[],
    formats: readonly number[],
    maxRows: number,
    sql: string,
    result: ExecuteResult,
    returnsRows: boolean,
  ): Promise<string | undefined> {
    let sent = 0;
    while (maxRows === 0 || sent < maxRows) {
      this.checkCancel();
      const next = source.next();
      const r = next instanceof Promise ? await next : next;
      if (r.done) {
        const tag = tagOf(sql, returnsRows, result, sent);
        this.send({ type: 'CommandComplete', tag });
        return tag;
      }
      if (returnsRows) this.send({ type: 'DataRow', values: encodeRow(r.value, columns, formats) });
      sent++;
      // A client that does not read stops the rows here, not in the server's memory.
      const full = this.out?.drained?.();
      if (full) await full;
    }
    this.send({ type: 'PortalSuspended' });
    return undefined;
  }

  // ---- COPY ---------------------------------------------------------------------------------------

  private async startCopyIn(sql: string, mode: 'simple' | 'extended', rest: readonly string[]): Promise<void> {
    if (!this.handlers.copyFrom) throw new HandlerError('0A000', 'COPY FROM STDIN is not supported by this server');
    const plan = await this.handlers.copyFrom(sql, this.ctx);
    const format = copyFormat(plan.format, sql);
    const columns = plan.columns.map(resolveColumn);
    const queue = new AsyncQueue<unknown[]>();
    const state: CopyInState = {
      mode,
      reader: new CopyRowReader(format, columns),
      queue,
      finished: Promise.resolve(),
      failure: undefined,
      rowsRead: 0,
      rest,
    };
    (state as { finished: Promise<number | void> }).finished = plan.write(queue).catch((error: unknown) => {
      state.failure ??= { error };
      throw error;
    });
    state.finished.catch(() => undefined);
    const f = format === 'binary' ? 1 : 0;
    this.send({ type: 'CopyInResponse', format: f, columnFormats: columns.map(() => f) });
    this.copyIn = state;
  }

  private async copyMessage(state: CopyInState, m: FrontendMessage): Promise<void> {
    try {
      switch (m.type) {
        case 'CopyData': {
          throwIfFailed(state);
          const rows = state.reader.push(m.data);
          state.rowsRead += rows.length;
          state.queue.push(...rows);
          if (state.queue.size > COPY_QUEUE_HIGH_WATER) await state.queue.drained();
          throwIfFailed(state);
          return;
        }
        case 'CopyDone': {
          const rows = state.reader.end();
          state.rowsRead += rows.length;
          state.queue.push(...rows);
          state.queue.end();
          const stored = await state.finished;
          this.copyIn = undefined;
          this.send({ type: 'CommandComplete', tag: `COPY ${typeof stored === 'number' ? stored : state.rowsRead}` });
          if (state.mode === 'simple') await this.runSimple(state.rest);
          return;
        }
        case 'CopyFail': {
          const error = new HandlerError('57014', `COPY from stdin failed: ${m.message}`);
          state.queue.fail(error);
          await state.finished.catch(() => undefined);
          throw error;
        }
        default:
          // Sync and Flush are ignored during COPY FROM STDIN (anything else comes through copyInterrupted).
          return;
      }
    } catch (err) {
      this.copyFailed(state, err);
    }
  }

  /** A failed COPY FROM STDIN: the handler stops reading, the error goes out, and the Query ends or the batch skips to Sync. */
  private copyFailed(state: CopyInState, err: unknown): void {
    state.queue.fail(err);
    this.copyIn = undefined;
    this.fail(err);
    if (state.mode === 'simple') this.readyForQuery();
    else this.skipping = true;
  }

  private async copyOut(sql: string): Promise<void> {
    if (!this.handlers.copyTo) throw new HandlerError('0A000', 'COPY TO STDOUT is not supported by this server');
    const plan = await this.handlers.copyTo(sql, this.ctx);
    const format = copyFormat(plan.format, sql);
    const columns = plan.columns.map(resolveColumn);
    const f = format === 'binary' ? 1 : 0;
    const source = new RowSource(plan.rows);
    this.send({ type: 'CopyOutResponse', format: f, columnFormats: columns.map(() => f) });
    const header = copyHeader(format);
    let count = 0;
    try {
      for (;;) {
        this.checkCancel();
        const next = source.next();
        const r = next instanceof Promise ? await next : next;
        if (r.done) break;
        const row = encodeCopyRow(format, columns, rowValues(r.value, columns));
        this.send({ type: 'CopyData', data: count === 0 && header ? Buffer.concat([header, row]) : row });
        count++;
      }
    } finally {
      source.close();
    }
    if (count === 0 && header) this.send({ type: 'CopyData', data: header });
    const trailer = copyTrailer(format);
    if (trailer) this.send({ type: 'CopyData', data: trailer });
    this.send({ type: 'CopyDone' });
    this.send({ type: 'CommandComplete', tag: `COPY ${count}` });
  }
}

/** The handler stopped reading COPY rows with an error: the COPY fails with it. */
function throwIfFailed(state: CopyInState): void {
  if (state.failure) throw state.failure.error;
}

function copyFormat(given: CopyFormat | undefined, sql: string): CopyFormat {
  const format = given ?? copyFormatOf(sql);
  if (format === 'csv') throw new HandlerError('0A000', 'COPY in CSV format is not supported by this server');
  return format;
}

/** Bind's result formats by the zero/one/all rule. */
function resultFormats(codes: readonly number[], columns: number): number[] {
  if (codes.length > 1 && codes.length !== columns) throw new HandlerError('08P01', `bind message has ${codes.length} result formats but query has ${columns} columns`);
  for (const c of codes) if (c !== 0 && c !== 1) throw new HandlerError('22023', `unsupported format code: ${c}`);
  return Array.from({ length: columns }, (_, i) => (codes.length === 0 ? 0 : codes.length === 1 ? codes[0]! : codes[i]!));
}

function tagOf(sql: string, returnsRows: boolean, result: ExecuteResult | undefined, rows: number): string {
  const tag = result?.tag;
  if (typeof tag === 'string') return tag;
  if (typeof tag === 'function') return tag(rows);
  if (returnsRows) return `SELECT ${rows}`;
  return (/^\s*(\w+)/.exec(sql.replace(/^\s*(--[^\n]*\n|\/\*[\s\S]*?\*\/)*/g, ''))?.[1] ?? '').toUpperCase();
}

function rowValues(row: Row, columns: readonly ResolvedColumn[]): readonly unknown[] {
  if (Array.isArray(row)) return row;
  const record = row as Readonly<Record<string, unknown>>;
  return columns.map((c) => record[c.description.name]);
}

function encodeRow(row: Row, columns: readonly ResolvedColumn[], formats: readonly number[]): ValueList {
  const values = rowValues(row, columns);
  const encoded: (string | Uint8Array | null)[] = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const v = values[i];
    encoded[i] = v === null || v === undefined ? null : formats[i] === 1 ? columns[i]!.encodeBinary(v) : columns[i]!.encodeText(v);
  }
  return ValueList.from(encoded);
}
