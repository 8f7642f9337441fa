/**
 * What a handler implements to serve SQL over the PostgreSQL protocol without knowing the
 * protocol: prepare a statement (its parameter and result types), execute a bound portal (rows
 * and a command tag), and optionally take COPY data in or out. The engine does the rest:
 * statements and portals, formats and value codecs, row limits, errors and transaction status.
 */
import type { DATA_TYPES } from '../../../generated/index.js';
import type { SessionStart } from '../../engine.js';

/** A type by its spec name ('int8', 'timestamptz'), an array of one ('text[]'), or a type OID. */
export type TypeRef = keyof typeof DATA_TYPES | `${keyof typeof DATA_TYPES}[]` | number;

export interface Column {
  readonly name: string;
  readonly type: TypeRef;
  /** The table the column comes from, or 0. */
  readonly tableOid?: number;
  /** The column's number in that table, or 0. */
  readonly columnNumber?: number;
  readonly typeModifier?: number;
}

/** One row: values in column order, or keyed by column name. `null` and `undefined` are NULL. */
export type Row = readonly unknown[] | Readonly<Record<string, unknown>>;
export type Rows = Iterable<Row> | AsyncIterable<Row>;

export type TransactionStatus = 'I' | 'T' | 'E';

/** What a handler sees of the session and the statement in progress. */
export interface HandlerContext {
  readonly session: SessionStart;
  /** 'I' outside a transaction block, 'T' inside one, 'E' inside a failed one. */
  readonly transactionStatus: TransactionStatus;
  /** Aborted when the client cancels the running statement (or the session ends). */
  readonly signal: AbortSignal;
  /** Per-session storage for the handler. */
  readonly state: Map<string, unknown>;
  /** Sends a NoticeResponse (WARNING, NOTICE, INFO...) to the client. */
  notice(severity: string, message: string, code?: string): void;
}

/** A prepared statement as the handler describes it. */
export interface Prepared<Plan = unknown> {
  /** One type per $n. Default: the types the client gave in Parse, text where it gave none. */
  readonly parameterTypes?: readonly TypeRef[];
  /** The result columns; absent or empty for a statement that returns no rows. */
  readonly columns?: readonly Column[];
  /** Anything the handler wants back when the statement is executed (a parsed query, say). */
  readonly plan?: Plan;
}

/** A statement bound to its parameters, ready to run. */
export interface BoundPortal<Plan = unknown> {
  readonly sql: string;
  /** The parameter values, decoded by the codecs of `parameterTypes`. */
  readonly parameters: readonly unknown[];
  /** The parameter type OIDs. */
  readonly parameterTypes: readonly number[];
  readonly columns: readonly Column[];
  readonly plan: Plan | undefined;
  /** The portal's name ('' for the unnamed portal). */
  readonly name: string;
}

export interface ExecuteResult {
  /** The rows; the engine pulls them as the client asks (row limits resume where they stopped). */
  readonly rows?: Rows;
  /**
   * The command tag, or a function of the number of rows sent by the final Execute. Default:
   * `SELECT n` for a statement with columns, else the statement's first word in upper case.
   */
  readonly tag?: string | ((rowCount: number) => string);
  /** The transaction status after this statement, when the handler manages transactions. */
  readonly transactionStatus?: TransactionStatus;
}

/** A simple-query result: like an execute result, with its own columns. */
export interface QueryResult extends ExecuteResult {
  readonly columns?: readonly Column[];
}

/** COPY ... FROM STDIN: the columns to decode, and where the rows go. */
export interface CopyIn {
  readonly columns: readonly Column[];
  /** Default: what the statement asks for (`BINARY`, `(FORMAT binary)`), else text. CSV is not supported. */
  readonly format?: 'text' | 'binary';
  /** Consumes the decoded rows; resolves to the number of rows stored (default: the number read). */
  write(rows: AsyncIterable<unknown[]>): Promise<number | void>;
}

/** COPY ... TO STDOUT: the columns and the rows to send. */
export interface CopyOut {
  readonly columns: readonly Column[];
  readonly format?: 'text' | 'binary';
  readonly rows: Rows;
}

export interface Handlers<Plan = unknown> {
  /**
   * Runs one statement of a simple Query (the engine splits the query string at semicolons).
   * Without it the engine prepares and executes the statement through `prepare` and `execute`.
   */
  query?(sql: string, ctx: HandlerContext): QueryResult | readonly QueryResult[] | Promise<QueryResult | readonly QueryResult[]>;
  /** Describes a statement for Parse: parameter types and result columns. Throw a HandlerError to refuse it. */
  prepare(sql: string, parameterTypes: readonly number[], ctx: HandlerContext): Prepared<Plan> | Promise<Prepared<Plan>>;
  /** Runs a bound statement. `maxRows` is the first Execute's row limit (0: all), a hint only. */
  execute(portal: BoundPortal<Plan>, options: { readonly maxRows: number }, ctx: HandlerContext): ExecuteResult | Promise<ExecuteResult>;
  copyFrom?(sql: string, ctx: HandlerContext): CopyIn | Promise<CopyIn>;
  copyTo?(sql: string, ctx: HandlerContext): CopyOut | Promise<CopyOut>;
  /** Called when a transaction block starts, commits or rolls back (BEGIN/COMMIT/ROLLBACK run by the engine). */
  begin?(ctx: HandlerContext): void | Promise<void>;
  commit?(ctx: HandlerContext): void | Promise<void>;
  rollback?(ctx: HandlerContext): void | Promise<void>;
  /** Called once per session before any statement, e.g. to fill `ctx.state`. */
  open?(ctx: HandlerContext): void | Promise<void>;
  close?(ctx: HandlerContext): void | Promise<void>;
}

export interface HandlerEngineOptions {
  /**
   * Who runs BEGIN, COMMIT, ROLLBACK and savepoint commands: the engine (default; it calls the
   * begin/commit/rollback hooks) or the handler (they reach `query`/`prepare` like any statement,
   * and the status follows their tags or `transactionStatus`).
   */
  readonly transactions?: 'engine' | 'handler';
  /** ParameterStatus values to report, over the defaults (server_version, DateStyle ISO, TimeZone UTC...). */
  readonly parameterStatus?: Readonly<Record<string, string>>;
  /** The engine's name in logs. */
  readonly name?: string;
}

/** An error to report to the client with a SQLSTATE; the statement fails, the session goes on. */
export class HandlerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: string,
    readonly extra: { readonly hint?: string; readonly position?: string; readonly severity?: 'ERROR' | 'FATAL' } = {},
  ) {
    super(message);
    this.name = 'HandlerError';
  }
}
