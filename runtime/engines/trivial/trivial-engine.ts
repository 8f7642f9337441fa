/**
 * A minimal in-process engine: `SELECT <integer>` returns that integer, transaction commands move
 * the transaction status, anything else completes with its command tag. It implements the
 * extended protocol's statements, portals, row limits and skip-until-Sync itself, so it measures
 * the runtime alone (the pgbench benchmark) and tests it without a database.
 */
import { DATA_TYPES, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import { ValueList } from '../../wire/index.js';
import { errorResponse } from '../../protocol/error-fields.js';
import type { BackendSink, Engine, EngineSession, MalformedMessage, SessionStart, SessionEvents } from '../../engine.js';

interface Statement {
  readonly query: string;
}
interface Portal {
  readonly statement: Statement;
  rowsSent: number;
}

const SELECT_INT = /^\s*select\s+(-?\d+)\s*;?\s*$/i;

export class TrivialEngine implements Engine {
  readonly name = 'trivial';

  async openSession(_start: SessionStart, _events: SessionEvents): Promise<EngineSession> {
    return new TrivialSession();
  }

  async close(): Promise<void> {}
}

class TrivialSession implements EngineSession {
  readonly parameterStatus: ReadonlyArray<readonly [string, string]> = [
    ['server_version', '18.0 (pgspec trivial engine)'],
    ['server_encoding', 'UTF8'],
    ['client_encoding', 'UTF8'],
    ['DateStyle', 'ISO, MDY'],
    ['integer_datetimes', 'on'],
    ['standard_conforming_strings', 'on'],
    ['TimeZone', 'UTC'],
  ];
  private readonly statements = new Map<string, Statement>();
  private readonly portals = new Map<string, Portal>();
  private status: 'I' | 'T' | 'E' = 'I';
  private skipping = false;

  async execute(messages: readonly FrontendMessage[], out: BackendSink): Promise<void> {
    for (const m of messages) {
      this.handle(m, out);
      const full = out.drained?.();
      if (full) await full;
    }
  }

  /**
   * A message whose body did not decode: its error, and then ReadyForQuery after a Query,
   * FunctionCall or Sync, or the skip to Sync after an extended-query message, as PostgreSQL
   * answers. Skipped messages and COPY messages (there is no COPY here) are dropped unread.
   */
  async malformed(message: MalformedMessage, out: BackendSink): Promise<void> {
    const { type } = message;
    if (type === 'CopyData' || type === 'CopyDone' || type === 'CopyFail' || (this.skipping && type !== 'Sync')) return;
    this.fail(out, message.error.code, message.error.message);
    if (type === 'Query' || type === 'FunctionCall' || type === 'Sync') {
      this.skipping = false;
      this.portals.delete('');
      out.send({ type: 'ReadyForQuery', status: this.status });
    }
  }

  cancel(): void {}

  async close(): Promise<void> {}

  private handle(m: FrontendMessage, out: BackendSink): void {
    if (this.skipping && m.type !== 'Sync') return;
    switch (m.type) {
      case 'Query':
        this.portals.delete('');
        if (m.query.trim() === '') out.send({ type: 'EmptyQueryResponse' });
        else this.run(m.query, 0, true, out, undefined);
        out.send({ type: 'ReadyForQuery', status: this.status });
        return;
      case 'Parse':
        this.statements.set(m.statement, { query: m.query });
        out.send({ type: 'ParseComplete' });
        return;
      case 'Bind': {
        const statement = this.statements.get(m.statement);
        if (!statement) return this.fail(out, '26000', `prepared statement "${m.statement}" does not exist`);
        this.portals.set(m.portal, { statement, rowsSent: 0 });
        out.send({ type: 'BindComplete' });
        return;
      }
      case 'Describe': {
        const statement = m.target === 'S' ? this.statements.get(m.name) : this.portals.get(m.name)?.statement;
        if (!statement) return this.fail(out, m.target === 'S' ? '26000' : '34000', `${m.target === 'S' ? 'prepared statement' : 'portal'} "${m.name}" does not exist`);
        if (m.target === 'S') out.send({ type: 'ParameterDescription', parameterTypes: [] });
        out.send(SELECT_INT.test(statement.query) ? rowDescription() : { type: 'NoData' });
        return;
      }
      case 'Execute': {
        const portal = this.portals.get(m.portal);
        if (!portal) return this.fail(out, '34000', `portal "${m.portal}" does not exist`);
        this.run(portal.statement.query, m.maxRows, false, out, portal);
        return;
      }
      case 'Close':
        (m.target === 'S' ? this.statements : this.portals).delete(m.name);
        out.send({ type: 'CloseComplete' });
        return;
      case 'Sync':
        this.skipping = false;
        this.portals.delete('');
        if (this.status === 'E' && !this.inBlock) this.status = 'I';
        out.send({ type: 'ReadyForQuery', status: this.status });
        return;
      case 'FunctionCall':
        out.send({ type: 'FunctionCallResponse', result: null });
        out.send({ type: 'ReadyForQuery', status: this.status });
        return;
      case 'CopyFail':
        out.send(error('57014', `COPY from stdin failed: ${m.message}`));
        return;
      default:
        return;
    }
  }

  private inBlock = false;

  private run(query: string, maxRows: number, describe: boolean, out: BackendSink, portal: Portal | undefined): void {
    const select = SELECT_INT.exec(query);
    if (select) {
      if (describe) out.send(rowDescription());
      if (portal && portal.rowsSent > 0) {
        out.send({ type: 'CommandComplete', tag: 'SELECT 0' });
        return;
      }
      out.send({ type: 'DataRow', values: ValueList.from([select[1]!]) });
      if (portal) portal.rowsSent = 1;
      if (maxRows === 1) out.send({ type: 'PortalSuspended' });
      else out.send({ type: 'CommandComplete', tag: 'SELECT 1' });
      return;
    }
    const word = (query.trim().split(/\s+/)[0] ?? '').replace(/;$/, '').toUpperCase();
    if (word === 'BEGIN' || word === 'START') {
      this.inBlock = true;
      this.status = 'T';
    } else if (word === 'COMMIT' || word === 'END' || word === 'ROLLBACK' || word === 'ABORT') {
      this.inBlock = false;
      this.status = 'I';
    }
    out.send({ type: 'CommandComplete', tag: word === 'START' ? 'START TRANSACTION' : word });
  }

  private fail(out: BackendSink, code: string, message: string): void {
    out.send(error(code, message));
    this.skipping = true;
    if (this.inBlock) this.status = 'E';
  }
}

function rowDescription(): BackendMessage {
  const t = DATA_TYPES.int4;
  return {
    type: 'RowDescription',
    columns: [{ name: '?column?', tableOid: 0, columnNumber: 0, typeOid: t.oid, typeSize: t.size, typeModifier: -1, format: 0 }],
  };
}

function error(code: string, message: string): BackendMessage {
  return errorResponse({ severity: 'ERROR', code, message });
}
