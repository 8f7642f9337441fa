/**
 * How protocol 3 tells the client things: errors, notices, ReadyForQuery, parameter status, the
 * cancel key and every other backend message go into the connection's batched output (which
 * checks each against the state machine and writes at the spec's flush points); messages the
 * engine produces between commands wait until the client is idle. These are the default hooks a
 * protocol built on protocol 3 may override one by one.
 */
import { STATE_MACHINE, type BackendMessage, type ErrorResponse, type NoticeResponse, type ReadyForQuery } from '../../generated/index.js';
import { errorResponse } from '../protocol/error-fields.js';
import type { Verdict } from '../protocol/state-machine.js';
import type { AnyMessage } from '../protocol/extension.js';
import type { Connection } from './connection.js';
import type { CancelKey, FailedInput } from './protocol-registry.js';
import type { PostgresWire } from './postgres-wire.js';

type PgConnection = Connection<PostgresWire>;

export function send(c: PgConnection, message: BackendMessage | AnyMessage): void {
  c.wire.out.send(message);
}

export function reportError(c: PgConnection, error: ErrorResponse): void {
  if (c.wire.socket.destroyed) return;
  if (c.wire.legacyErrors) c.wire.out.sendLegacyError(error);
  else c.wire.out.send(error);
}

export function reportNotice(c: PgConnection, notice: NoticeResponse): void {
  c.wire.out.send(notice);
}

export function readyForQuery(c: PgConnection, status: ReadyForQuery['status']): void {
  c.wire.out.send({ type: 'ReadyForQuery', status });
}

export function sendCancelKey(c: PgConnection, key: CancelKey): void {
  c.wire.out.send({ type: 'BackendKeyData', processId: key.processId, secretKey: key.secretKey });
}

export function reportParameterStatus(c: PgConnection, name: string, value: string): void {
  c.wire.out.send({ type: 'ParameterStatus', name, value });
}

/**
 * PostgreSQL's ignore_till_sync: after an extended-query message failed, everything up to the
 * next Sync is skipped. The engine's ErrorResponse has already moved the state machine there
 * (Extended → ExtendedFailed); this makes sure of it when the failure reached the client some
 * other way. A Query, FunctionCall or Sync leaves nothing to skip.
 */
export function resetAfterError(c: PgConnection, _failed: FailedInput): void {
  const fsm = c.wire.fsm;
  if (fsm.state === 'Extended') fsm.force('ExtendedFailed');
}

export function drained(c: PgConnection): Promise<void> | undefined {
  return c.wire.out.drained();
}

/** Holds an engine message produced between commands until the client is idle (at once if it is). */
export function asyncMessage(c: PgConnection, message: BackendMessage): void {
  const w = c.wire;
  w.pendingAsync.push(message);
  if (!c.executing && w.fsm.frontendSpeaks && w.fsm.info.phase === 'command') deliverAsync(c);
}

/** Sends the engine's held messages (each through its hook) and writes them out. */
export function deliverAsync(c: PgConnection): void {
  const w = c.wire;
  if (w.pendingAsync.length === 0 || w.fsm.closed) return;
  for (const m of w.pendingAsync.splice(0)) c.sink.send(m);
  w.out.flush();
}

/** Writes what is buffered, and closes. */
export function close(c: PgConnection): void {
  const w = c.wire;
  w.out.flush();
  if (!w.fsm.closed) w.fsm.force(STATE_MACHINE.final);
  w.input.close();
}

/** Answers a message the state machine refused (the error, and the FATAL the spec has follow it) and closes if it ends the session. */
export function reject(c: PgConnection, v: Extract<Verdict, { action: 'reject' }>): void {
  c.hooks.reportError(c, errorResponse({ severity: v.severity, code: v.sqlstate, message: v.message }));
  if (v.followedBy) c.hooks.reportError(c, errorResponse({ severity: v.followedBy.severity, code: v.followedBy.sqlstate, message: v.followedBy.message }));
  if (v.closes) c.close();
  else c.wire.out.flush();
}
