/** Drives the PGlite engine directly, without sockets: sessions, message shorthands, compact output. */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { BackendMessage, FrontendMessage } from '../../../generated/index.js';
import { ValueList } from '../../../runtime/wire/index.js';
import type { EngineSession } from '../../../runtime/engine.js';
import { PgliteEngine, type PgliteSession } from '../../../runtime/engines/pglite/index.js';

let nextPid = 1000;
const opened = new Set<EngineSession>();

/** Closes every session a test opened (a failed assertion must not leave the backend held). */
export async function closeAll(): Promise<void> {
  for (const s of [...opened]) await s.close().catch(() => undefined);
  opened.clear();
}

/** One engine for a test file: started before its tests, every session closed after each test, closed at the end. */
export function engineForFile(): () => PgliteEngine {
  let engine: PgliteEngine | undefined;
  beforeAll(async () => {
    engine = await PgliteEngine.create();
  });
  afterEach(closeAll);
  afterAll(async () => {
    await engine?.close();
  });
  return () => engine!;
}

export interface TestSession {
  readonly session: PgliteSession;
  readonly processId: number;
  /** Asynchronous messages the engine delivered (notifications). */
  readonly async: BackendMessage[];
  /** Fatal errors the engine reported. */
  readonly fatal: Error[];
  /** Runs messages; resolves with the compact form of what came back. */
  run(...messages: FrontendMessage[]): Promise<string>;
  /** The same, with the messages themselves. */
  runRaw(...messages: FrontendMessage[]): Promise<BackendMessage[]>;
}

export async function openSession(engine: PgliteEngine, parameters: Record<string, string> = {}, user = 'postgres', database = 'postgres'): Promise<TestSession> {
  const processId = nextPid++;
  const asyncMessages: BackendMessage[] = [];
  const fatal: Error[] = [];
  const session = await engine.openSession(
    { user, database, parameters, protocolVersion: 196608, processId },
    { asyncMessage: (m) => asyncMessages.push(m), fatal: (e) => fatal.push(e) },
  );
  opened.add(session);
  const runRaw = async (...messages: FrontendMessage[]): Promise<BackendMessage[]> => {
    const out: BackendMessage[] = [];
    await session.execute(messages, { send: (m) => out.push(m as BackendMessage) });
    return out;
  };
  return { session, processId, async: asyncMessages, fatal, runRaw, run: async (...m) => show(await runRaw(...m)) };
}

export const q = (query: string): FrontendMessage => ({ type: 'Query', query });
export const parse = (statement: string, query: string, parameterTypes: number[] = []): FrontendMessage => ({ type: 'Parse', statement, query, parameterTypes });
export const bind = (portal: string, statement: string, params: (string | null)[] = []): FrontendMessage => ({
  type: 'Bind', portal, statement, parameterFormats: [], parameters: ValueList.from(params), resultFormats: [],
});
export const describe = (target: 'S' | 'P', name: string): FrontendMessage => ({ type: 'Describe', target, name });
export const execute = (portal = '', maxRows = 0): FrontendMessage => ({ type: 'Execute', portal, maxRows });
export const close = (target: 'S' | 'P', name: string): FrontendMessage => ({ type: 'Close', target, name });
export const sync: FrontendMessage = { type: 'Sync' };
export const flush: FrontendMessage = { type: 'Flush' };
export const copyData = (s: string): FrontendMessage => ({ type: 'CopyData', data: Buffer.from(s) });
export const copyDone: FrontendMessage = { type: 'CopyDone' };
export const copyFail = (message: string): FrontendMessage => ({ type: 'CopyFail', message });

/** One token per message: `1 2 T D[1] C(SELECT 1) Z(I)`, errors as `E(22012)`. */
export function show(messages: readonly BackendMessage[]): string {
  return messages.map(token).join(' ');
}

export function errorMessage(messages: readonly BackendMessage[]): string | undefined {
  const e = messages.find((m) => m.type === 'ErrorResponse');
  return e?.type === 'ErrorResponse' ? e.fields.find((f) => f.code === 'M')?.value : undefined;
}

function token(m: BackendMessage): string {
  switch (m.type) {
    case 'ParseComplete': return '1';
    case 'BindComplete': return '2';
    case 'CloseComplete': return '3';
    case 'ParameterDescription': return 't';
    case 'RowDescription': return 'T';
    case 'NoData': return 'n';
    case 'PortalSuspended': return 's';
    case 'EmptyQueryResponse': return 'I';
    case 'DataRow': return `D[${m.values.texts().map((v) => v ?? 'NULL').join(',')}]`;
    case 'CommandComplete': return `C(${m.tag})`;
    case 'ReadyForQuery': return `Z(${m.status})`;
    case 'ErrorResponse': return `E(${m.fields.find((f) => f.code === 'C')?.value})`;
    case 'NoticeResponse': return `N(${m.fields.find((f) => f.code === 'C')?.value})`;
    case 'CopyInResponse': return 'G';
    case 'CopyOutResponse': return 'H';
    case 'CopyData': return `d(${JSON.stringify(Buffer.from(m.data).toString())})`;
    case 'CopyDone': return 'c';
    case 'NotificationResponse': return `A(${m.processId},${m.channel},${m.payload})`;
    case 'ParameterStatus': return `S(${m.name}=${m.value})`;
    default: return m.type;
  }
}

/** Whether a promise is still pending after the event loop had a chance to run. */
export async function isPending(p: Promise<unknown>, ms = 50): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setTimeout(r, ms));
  return !done;
}
