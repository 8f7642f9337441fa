/**
 * The default engine: PostgreSQL 18 embedded as PGlite (WASM), run in a worker thread so a long
 * query does not freeze the server and can be cancelled.
 *
 * PGlite is a single PostgreSQL backend; every client session shares it. The engine makes that
 * invisible to clients: one session at a time holds the backend, until its transaction ends
 * (SessionLock); statement names are private per session (StatementNames); settings are switched
 * per session (session-settings); notifications are routed to the sessions that listen
 * (Listeners); and a session that ends leaves nothing behind.
 */
import { EngineError, type Engine, type SessionEvents, type SessionStart } from '../../engine.js';
import { STATE_MACHINE, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import { BackendDecoder, encodeMessages } from './codec.js';
import { Listeners, quoteIdent } from './notifications.js';
import { PgliteSession } from './pglite-session.js';
import { PgliteThread } from './pglite-thread.js';
import { SessionLock } from './session-lock.js';
import { applySettingsMessages, quoteLiteral, REPORTED_PARAMETERS, type Settings } from './session-settings.js';

export interface PgliteEngineOptions {
  /** A directory for the database files (created by initdb on first use); in memory when absent. */
  readonly dataDir?: string;
  /** Output is handed from the worker in pieces of about this size (default 256 KiB). */
  readonly outputChunkBytes?: number;
}

/** The settings of a backend nobody has changed. */
const DEFAULTS: Settings = [];

export class PgliteEngine implements Engine {
  readonly name = 'pglite';
  /** @internal */ readonly lock = new SessionLock<PgliteSession>();
  /** @internal */ readonly listeners = new Listeners<PgliteSession>();
  /** @internal */ readonly sessions = new Set<PgliteSession>();
  /** The settings the backend has now; undefined when unknown (a switch failed half-way). */
  private backendSettings: Settings | undefined = DEFAULTS;
  private nextSessionId = 1;
  private closed = false;

  private constructor(
    /** @internal */ readonly thread: PgliteThread,
    /** @internal */ readonly baseUser: string,
  ) {}

  /** Starts PGlite in a worker thread: several seconds (more with a new data directory, for initdb). */
  static async create(options: PgliteEngineOptions = {}): Promise<PgliteEngine> {
    let engine: PgliteEngine | undefined;
    const thread = await PgliteThread.start({
      ...options,
      onCrash: (message) => engine?.crashed(message),
    });
    const probe = await rows(thread, 'select session_user::text');
    const baseUser = probe[0]?.[0] ?? 'postgres';
    engine = new PgliteEngine(thread, baseUser);
    return engine;
  }

  async openSession(start: SessionStart, events: SessionEvents): Promise<PgliteSession> {
    if (this.closed) throw new EngineError('57P03', 'the database system is shutting down');
    if (this.thread.crashed !== undefined) throw new EngineError('57P02', `PGlite has stopped: ${this.thread.crashed}`);
    const session = new PgliteSession(this, this.nextSessionId++, start, events);
    await session.open();
    this.sessions.add(session);
    return session;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lock.holder?.cancel();
    const shutdown = STATE_MACHINE.errors.administratorShutdown;
    this.lock.refuseAll(new EngineError(shutdown.sqlstate, shutdown.message));
    await this.thread.close();
  }

  // ---- used by sessions while they hold the backend ---------------------------------------------------

  /** Runs engine-internal messages and returns their output (none of it reaches a client). */
  async internal(messages: readonly FrontendMessage[]): Promise<BackendMessage[]> {
    const decoder = new BackendDecoder();
    const out: BackendMessage[] = [];
    const end = await this.thread.run(encodeMessages(messages), (bytes) => {
      decoder.push(bytes);
      for (let m = decoder.next(); m !== undefined; m = decoder.next()) out.push(m);
    });
    if (end !== 'done') throw new EngineError('XX000', 'an internal command of the PGlite engine waits for COPY data');
    return out;
  }

  /** Text rows of an internal simple query; throws EngineError if it fails. */
  async rows(sql: string): Promise<(string | null)[][]> {
    return rowsOf(await this.internal([{ type: 'Query', query: sql }]));
  }

  /** Makes the backend's settings those of `session` (called when it starts holding the backend). */
  async switchSettings(settings: Settings): Promise<void> {
    const current = this.backendSettings;
    if (current !== undefined && sameSettings(current, settings)) return;
    this.backendSettings = undefined;
    const out = await this.internal(applySettingsMessages(settings, this.baseUser));
    const failed = out.find((m) => m.type === 'ErrorResponse');
    if (failed) throw errorOf(failed);
    this.backendSettings = settings;
  }

  /** Records that the backend's settings are `settings` (read back after a session changed them). */
  settingsAre(settings: Settings | undefined): void {
    this.backendSettings = settings;
  }

  /** Creates a superuser role of this name unless it exists (the backend's own user runs everything). */
  async ensureRole(name: string): Promise<void> {
    const [row] = await this.rows(`select exists(select 1 from pg_roles where rolname = ${quoteLiteral(name)})`);
    if (row?.[0] === 't') return;
    await this.rows(`create role ${quoteIdent(name)} superuser login`);
  }

  /** Listens again on channels other sessions need, after a session's UNLISTEN removed them. */
  async listen(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    await this.internal([{ type: 'Query', query: channels.map((c) => `LISTEN ${quoteIdent(c)}`).join('; ') }]);
  }

  /** ParameterStatus values for the backend's current settings, in PostgreSQL 18's order. */
  async reportedParameters(): Promise<[string, string][]> {
    const sql = `select ${REPORTED_PARAMETERS.map((n) => `current_setting('${n}')`).join(', ')}, session_user::text`;
    const [row] = await this.rows(sql);
    if (!row) throw new EngineError('XX000', 'PGlite returned no settings');
    return REPORTED_PARAMETERS.map((name, i) => {
      let value = row[i] ?? '';
      // PGlite runs single-user, where session_authorization is never assigned; PostgreSQL reports the user.
      if (name === 'session_authorization' && value === '') value = row[REPORTED_PARAMETERS.length] ?? '';
      return [name, value];
    });
  }

  /** @internal */ forget(session: PgliteSession): void {
    this.sessions.delete(session);
  }

  private crashed(message: string): void {
    const error = new EngineError('57P02', `PGlite has stopped: ${message}`);
    this.lock.refuseAll(error);
    for (const s of this.sessions) s.lost(error);
    this.sessions.clear();
  }
}

function sameSettings(a: Settings, b: Settings): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every(([name, value], i) => b[i]![0] === name && b[i]![1] === value);
}

async function rows(thread: PgliteThread, sql: string): Promise<(string | null)[][]> {
  const decoder = new BackendDecoder();
  const out: BackendMessage[] = [];
  await thread.run(encodeMessages([{ type: 'Query', query: sql }]), (bytes) => {
    decoder.push(bytes);
    for (let m = decoder.next(); m !== undefined; m = decoder.next()) out.push(m);
  });
  return rowsOf(out);
}

/** The text rows of an internal query's output; throws the EngineError of its ErrorResponse, if any. */
export function rowsOf(out: readonly BackendMessage[]): (string | null)[][] {
  const failed = out.find((m) => m.type === 'ErrorResponse');
  if (failed) throw errorOf(failed);
  return out.flatMap((m) => (m.type === 'DataRow' ? [m.values.texts()] : []));
}

/** An ErrorResponse as an EngineError with its SQLSTATE. */
export function errorOf(m: BackendMessage): EngineError {
  if (m.type !== 'ErrorResponse') return new EngineError('XX000', 'unexpected message');
  const field = (code: string): string => m.fields.find((f) => f.code === code)?.value ?? '';
  return new EngineError(field('C') || 'XX000', field('M'));
}
