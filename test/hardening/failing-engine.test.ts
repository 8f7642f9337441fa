/**
 * Engines that fail: one that throws mid-query (after sending part of a result), one that throws
 * an EngineError with its own SQLSTATE, one that reports its session lost from outside a request,
 * one that cannot open a session. The client always gets an ErrorResponse with the right
 * SQLSTATE and a close, never a hang, and the server goes on serving other connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrontendMessage } from '../../generated/index.js';
import { EngineError, type BackendSink, type Engine, type EngineSession, type SessionEvents, type SessionStart } from '../../runtime/engine.js';
import { TrivialEngine } from '../../runtime/engines/trivial/trivial-engine.js';
import { ValueList } from '../../runtime/wire/index.js';
import { RawClient, errorOf, shape } from '../runtime/support/raw-client.js';
import { startServer, type RunningServer } from '../runtime/support/servers.js';

/** The trivial engine, except for queries naming a failure: `fail throw`, `fail engine`, `fail lost`, `fail async`. */
class FailingEngine implements Engine {
  readonly name = 'failing';
  private readonly inner = new TrivialEngine();

  async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
    if (start.user === 'cannot-open') throw new Error('the engine could not open a session');
    const s = await this.inner.openSession(start, events);
    return {
      parameterStatus: s.parameterStatus,
      cancel: () => s.cancel(),
      close: () => s.close(),
      async execute(messages: readonly FrontendMessage[], out: BackendSink): Promise<void> {
        for (const m of messages) {
          const q = m.type === 'Query' ? m.query : '';
          if (q === 'fail throw') {
            out.send({ type: 'RowDescription', columns: [{ name: 'x', tableOid: 0, columnNumber: 0, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 }] });
            out.send({ type: 'DataRow', values: ValueList.from(['partial']) });
            throw new TypeError("Cannot read properties of undefined (reading 'rows')");
          }
          if (q === 'fail engine') throw new EngineError('57P01', 'terminating connection due to administrator command');
          if (q === 'fail async') await Promise.reject(new RangeError('out of range inside the engine'));
          if (q === 'fail lost') {
            // The engine loses the session from elsewhere (its worker died) while idle.
            setTimeout(() => events.fatal(new EngineError('08006', 'the engine lost this session')), 10);
            out.send({ type: 'EmptyQueryResponse' });
            out.send({ type: 'ReadyForQuery', status: 'I' });
            continue;
          }
          await s.execute([m], out);
        }
      },
    };
  }

  async close(): Promise<void> {}
}

describe('a failing engine', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer({ engine: new FailingEngine() });
  });
  afterAll(() => s.close());

  const query = async (sql: string, user = 'bob'): Promise<ReturnType<typeof shape> | { shape: string[]; code: string; severity: string; message: string }> => {
    const c = await RawClient.connect(s.port);
    try {
      const login = await c.login(user);
      if (login.at(-1)!.type !== 'ReadyForQuery') {
        const rest = login.at(-1)!.type === 'Closed' ? login : [...login, ...(await c.drainToClose())];
        const e = errorOf(rest);
        return { shape: shape(rest).filter((t) => t !== 'AuthenticationOk'), code: e.code, severity: e.severity, message: e.message };
      }
      c.send({ type: 'Query', query: sql });
      const got = await c.until('Closed', 5000);
      const e = errorOf(got);
      return { shape: shape(got), code: e.code, severity: e.severity, message: e.message };
    } finally {
      c.close();
    }
  };

  const stillServing = async (): Promise<void> => {
    const c = await RawClient.connect(s.port);
    await c.login('bob');
    c.send({ type: 'Query', query: 'SELECT 42' });
    expect(shape(await c.until('ReadyForQuery'))).toEqual(['RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
    c.close();
  };

  it('throws mid-result: the rows sent so far, FATAL XX000, a close', async () => {
    expect(await query('fail throw')).toEqual({
      shape: ['RowDescription', 'DataRow', 'ErrorResponse', 'Closed'],
      code: 'XX000',
      severity: 'FATAL',
      message: "internal error: Cannot read properties of undefined (reading 'rows')",
    });
    await stillServing();
  });

  it('rejects asynchronously: FATAL XX000, a close', async () => {
    expect(await query('fail async')).toMatchObject({ shape: ['ErrorResponse', 'Closed'], code: 'XX000', severity: 'FATAL' });
    await stillServing();
  });

  it('throws an EngineError: its SQLSTATE (57P01), a close', async () => {
    expect(await query('fail engine')).toEqual({ shape: ['ErrorResponse', 'Closed'], code: '57P01', severity: 'FATAL', message: 'terminating connection due to administrator command' });
    await stillServing();
  });

  it('loses the session while idle: FATAL with its SQLSTATE (08006), a close', async () => {
    expect(await query('fail lost')).toEqual({
      shape: ['EmptyQueryResponse', 'ReadyForQuery', 'ErrorResponse', 'Closed'],
      code: '08006',
      severity: 'FATAL',
      message: 'the engine lost this session',
    });
    await stillServing();
  });

  it('cannot open a session: FATAL XX000 after authentication, a close', async () => {
    expect(await query('SELECT 1', 'cannot-open')).toMatchObject({ shape: ['ErrorResponse', 'Closed'], code: 'XX000', severity: 'FATAL' });
    await stillServing();
  });

  it('leaves no connection behind', async () => {
    for (let i = 0; i < 50 && s.server.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.server.connectionCount).toBe(0);
  });
});
