/**
 * Protocol 3's command loop: a single sequential loop reads a message in the framing and context
 * the current state gives, asks the state machine what to do with it, and hands runs of accepted
 * messages to the engine (through `processCommand` when a protocol overrides it). A well-framed
 * message with a bad body goes to the engine's `malformed`, which answers it as PostgreSQL does
 * (ERROR, then ReadyForQuery or skip to Sync); an engine without it ends the session.
 */
import { MESSAGES, type FrontendMessage } from '../../generated/index.js';
import { errorResponse } from '../protocol/error-fields.js';
import { FLUSHING_INPUT } from '../protocol/flush-points.js';
import type { Verdict } from '../protocol/state-machine.js';
import { ProtocolDecodeError } from '../wire/index.js';
import type { Connection } from './connection.js';
import { decodeNext, readInput } from './postgres-input.js';
import { deliverAsync, reject } from './postgres-reporting.js';
import { MalformedInput, type PostgresWire } from './postgres-wire.js';

type PgConnection = Connection<PostgresWire>;

/** Largest run of messages handed to the engine at once. */
const MAX_RUN = 1000;

export async function commandLoop(c: PgConnection): Promise<void> {
  const w = c.wire;
  for (;;) {
    const full = w.out.drained();
    if (full) await full;
    deliverAsync(c);
    if (c.shuttingDown || c.closed) return;
    const m = await readInput(c);
    if (m === undefined) return;
    if (!(await (m instanceof MalformedInput ? answerMalformed(c, m) : handle(c, m)))) return;
  }
}

/** Hands a command to the engine: through the protocol's processCommand if it has one. */
function dispatch(c: PgConnection, messages: readonly FrontendMessage[]): Promise<void> {
  return c.hooks.processCommand ? c.hooks.processCommand(c, messages) : c.execute(messages);
}

/** One message the loop read, with the ones buffered after it that continue its run; false ends the loop. */
async function handle(c: PgConnection, m: FrontendMessage): Promise<boolean> {
  const w = c.wire;
  if (!w.fsm.accepts(m.type)) {
    const phase = w.fsm.info.phase;
    const byte = MESSAGES[m.type]?.typeByte?.charCodeAt(0);
    const v = w.fsm.received(m.type, { byte });
    if (v.action === 'ignore') return true;
    if (v.action === 'reject') return refuse(c, v, phase, m.type, byte ?? 0);
  }
  if (m.type === 'Terminate') {
    // PostgreSQL exits at once: answers it still held (an unfinished pipeline's) never go out.
    w.out.discard();
    return false;
  }
  const run = [m];
  if (w.fsm.frontendSpeaks && !FLUSHING_INPUT.has(m.type)) extendRun(c, run);
  await dispatch(c, run);
  endOfRun(c, run[run.length - 1]!.type);
  return true;
}

/**
 * A message the state refuses. An ERROR-level refusal fails the operation in progress (a COPY
 * the message interrupted): the engine fails it and reports it with what only it knows (PostgreSQL's
 * "COPY t, line 2"); then the FATAL the spec has follow it, if any, ends the session.
 */
async function refuse(c: PgConnection, v: Extract<Verdict, { action: 'reject' }>, phase: string, type: FrontendMessage['type'], byte: number): Promise<boolean> {
  if (v.severity !== 'ERROR' || phase !== 'copy') {
    reject(c, v);
    return !v.closes;
  }
  await c.copyInterrupted({ type, byte, error: { code: v.sqlstate, message: v.message } });
  if (v.followedBy && !c.closed) {
    c.hooks.reportError(c, errorResponse({ severity: v.followedBy.severity, code: v.followedBy.sqlstate, message: v.followedBy.message }));
  }
  if (v.closes) return false;
  endOfRun(c, 'CopyFail');
  return true;
}

/** A well-framed message whose body did not decode, after login. */
async function answerMalformed(c: PgConnection, input: MalformedInput): Promise<boolean> {
  const w = c.wire;
  const { message } = input;
  const phase = w.fsm.info.phase;
  const v = w.fsm.received(message.type, { byte: input.byte });
  // Skipped anyway (e.g. while skipping to Sync): PostgreSQL does not even read its body.
  if (v.action === 'ignore') return true;
  if (v.action === 'reject') return refuse(c, v, phase, message.type, input.byte);
  if (message.type === 'Terminate') {
    w.out.discard();
    return false;
  }
  if (!(await c.malformed(message))) {
    c.fail({ severity: 'FATAL', code: message.error.code, message: input.detail });
    return false;
  }
  c.hooks.resetAfterError(c, { type: message.type });
  endOfRun(c, message.type);
  return true;
}

/**
 * As PostgreSQL: output goes out at a Flush, at the end of a cycle (the spec's flush points), or
 * when the server waits for the client (copy-in); not merely because input ran dry.
 */
function endOfRun(c: PgConnection, last: string): void {
  const w = c.wire;
  if (FLUSHING_INPUT.has(last) || !w.fsm.frontendSpeaks || w.fsm.info.phase === 'copy') w.out.flush();
  w.input.resumeBelow(w.decoder.buffered);
}

/** Adds the already-buffered messages that continue this run, up to one that ends it. */
function extendRun(c: PgConnection, run: FrontendMessage[]): void {
  const w = c.wire;
  while (run.length < MAX_RUN) {
    let n: FrontendMessage | undefined;
    try {
      n = decodeNext(c);
    } catch (err) {
      // Answered when the loop reads it, after this run: the decoder may have moved past it.
      if (!(err instanceof ProtocolDecodeError)) throw err;
      w.stashed = err;
      return;
    }
    if (n === undefined) return;
    // A Query or FunctionCall starts its own run; a message the state rejects, or Terminate, ends it.
    const startsRun = n.type === 'Query' || n.type === 'FunctionCall' || n.type === 'Terminate';
    if (startsRun || !w.fsm.accepts(n.type)) {
      if (w.fsm.info.recv[n.type]?.action === 'ignore') {
        w.fsm.received(n.type);
        continue;
      }
      w.stashed = n;
      return;
    }
    run.push(n);
    if (!w.fsm.frontendSpeaks || FLUSHING_INPUT.has(n.type)) return;
  }
}
