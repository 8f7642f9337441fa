/**
 * The protocol registry's hooks over TCP: one PgServer, one engine, three listeners. The first
 * speaks plain protocol 3; the second is protocol 3 with a few hooks overridden (notices
 * rewritten, one parameter hidden, ReadyForQuery counted, cancel keys recorded); the third is a
 * line protocol that is not PostgreSQL at all. Real clients see the overrides only on the second
 * listener; cancel keys work across listeners (one cancel table); one close ends them all.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { noticeResponse, readErrorFields } from '../../runtime/protocol/error-fields.js';
import { postgresHooks, postgresProtocol } from '../../runtime/server/postgres-protocol.js';
import type { PostgresWire } from '../../runtime/server/postgres-wire.js';
import type { CancelKey, WireProtocol } from '../../runtime/server/protocol-registry.js';
import { PgServer } from '../../runtime/server/server.js';
import { describeWithClient, runPsql } from '../support/clients.js';
import { lineProtocol } from './support/line-protocol.js';
import { RawClient } from './support/raw-client.js';
import { ScriptedEngine } from './support/scripted-engine.js';
import { waitFor } from './support/servers.js';

const HIDDEN = 'TimeZone';

/** What the tweaked protocol's overrides saw. */
const seen = { readyForQuery: 0, keys: [] as CancelKey[] };

function tweakedProtocol(): WireProtocol<PostgresWire> {
  const base = postgresHooks({ name: 'tweaked' });
  return {
    name: 'tweaked',
    hooks: {
      ...base,
      reportNotice: (c, notice) => {
        const info = readErrorFields(notice);
        base.reportNotice(c, noticeResponse({ ...info, message: `[tweaked] ${info.message}` }));
      },
      reportParameterStatus: (c, name, value) => {
        if (name !== HIDDEN) base.reportParameterStatus(c, name, value);
      },
      readyForQuery: (c, status) => {
        seen.readyForQuery++;
        base.readyForQuery(c, status);
      },
      sendCancelKey: (c, key) => {
        seen.keys.push(key);
        base.sendCancelKey(c, key);
      },
    },
  };
}

let engine: ScriptedEngine;
let server: PgServer;
let plainPort: number;
let tweakedPort: number;
let linesPort: number;

/** One server, one engine: plain protocol 3, the tweaked one and the line protocol, each on its own listener. */
async function threeProtocols(engine: ScriptedEngine): Promise<{ server: PgServer; ports: [plain: number, tweaked: number, lines: number] }> {
  const server = new PgServer({
    engine,
    users: ['alice:trust', 'carol:password:secret'],
    protocols: [postgresProtocol(), tweakedProtocol(), lineProtocol()],
    listeners: [
      { protocol: 'postgresql', host: '127.0.0.1', port: 0 },
      { protocol: 'tweaked', host: '127.0.0.1', port: 0 },
      { protocol: 'lines', host: '127.0.0.1', port: 0 },
    ],
  });
  const [plain, tweaked, lines] = await server.listen();
  return { server, ports: [plain!.port!, tweaked!.port!, lines!.port!] };
}

beforeAll(async () => {
  engine = new ScriptedEngine();
  ({ server, ports: [plainPort, tweakedPort, linesPort] } = await threeProtocols(engine));
});

afterAll(async () => {
  await server?.close();
});

interface PgSession {
  readonly client: pg.Client;
  readonly notices: string[];
  readonly parameters: Map<string, string>;
}

async function pgSession(port: number): Promise<PgSession> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'alice', database: 'postgres' });
  const notices: string[] = [];
  const parameters = new Map<string, string>();
  client.on('notice', (n) => notices.push(n.message ?? ''));
  const connection = (client as unknown as { connection: { on(event: string, f: (m: { parameterName: string; parameterValue: string }) => void): void } }).connection;
  connection.on('parameterStatus', (m) => parameters.set(m.parameterName, m.parameterValue));
  await client.connect();
  return { client, notices, parameters };
}

/** Sends a CancelRequest to `port` for the session with this key. */
async function cancelVia(port: number, key: { processId: number; secretKey: Uint8Array }): Promise<void> {
  const c = await RawClient.connect(port);
  c.send({ type: 'CancelRequest', processId: key.processId, secretKey: key.secretKey });
  await c.drainToClose();
}

describeWithClient('node-pg', 'protocol 3 with overridden hooks, beside plain protocol 3 (node-postgres)', () => {
  it('rewrites notices, hides a parameter and counts ReadyForQuery on the second listener only', async () => {
    const plain = await pgSession(plainPort);
    const tweaked = await pgSession(tweakedPort);
    try {
      const before = seen.readyForQuery;
      await plain.client.query('notice hello');
      await tweaked.client.query('notice hello');
      await tweaked.client.query('select 5');
      expect(plain.notices).toEqual(['hello']);
      expect(tweaked.notices).toEqual(['[tweaked] hello']);
      expect(plain.parameters.get(HIDDEN)).toBe('UTC');
      expect(tweaked.parameters.has(HIDDEN)).toBe(false);
      expect(tweaked.parameters.get('client_encoding')).toBe('UTF8');
      // Two queries on the tweaked listener; the plain session's don't count.
      expect(seen.readyForQuery - before).toBe(2);
    } finally {
      await plain.client.end();
      await tweaked.client.end();
    }
  });

  it('sends an asynchronous notice through the same hook', async () => {
    const tweaked = await pgSession(tweakedPort);
    try {
      await tweaked.client.query('notice later from the engine');
      await waitFor(() => tweaked.notices.length > 0, 5000, 'the asynchronous notice');
      expect(tweaked.notices).toEqual(['[tweaked] from the engine']);
    } finally {
      await tweaked.client.end();
    }
  });

  it('records the cancel key it sent; a CancelRequest on either listener cancels the session', async () => {
    for (const via of [tweakedPort, plainPort]) {
      const tweaked = await pgSession(tweakedPort);
      try {
        const client = tweaked.client as unknown as { processID: number; secretKey: number };
        const sent = seen.keys.at(-1)!;
        expect(sent.processId).toBe(client.processID);
        const running = tweaked.client.query('sleep').then(
          () => undefined,
          (e: pg.DatabaseError) => e.code,
        );
        await waitFor(() => engine.queries.at(-1) === 'sleep', 5000, 'the statement to start');
        await cancelVia(via, sent);
        expect(await running).toBe('57014');
      } finally {
        await tweaked.client.end();
      }
    }
  });
});

describeWithClient('psql', 'protocol 3 with overridden hooks, beside plain protocol 3 (psql)', () => {
  const psql = (port: number, sql: string) => runPsql(['-c', sql, `host=127.0.0.1 port=${port} user=alice dbname=postgres sslmode=disable`]);

  it('shows the rewritten notice only on the second listener', async () => {
    const plain = await psql(plainPort, 'notice hello psql');
    const tweaked = await psql(tweakedPort, 'notice hello psql');
    expect(plain.exitCode).toBe(0);
    expect(tweaked.exitCode).toBe(0);
    expect(plain.stderr).toContain('NOTICE:  hello psql');
    expect(tweaked.stderr).toContain('NOTICE:  [tweaked] hello psql');
  });
});

/** A client of the line protocol on a plain socket. */
class LineClient {
  private buffered = '';
  private waiting: (() => void) | undefined;
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffered += d;
      this.waiting?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiting?.();
    });
  }

  static async connect(port: number): Promise<LineClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new LineClient(socket);
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** Lines up to and including the first that starts with `prefix`; 'closed' if the server closes first. */
  async until(prefix: string): Promise<string[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const lines = this.buffered.split('\n');
      const at = lines.findIndex((l, i) => i < lines.length - 1 && l.startsWith(prefix));
      if (at >= 0) {
        this.buffered = lines.slice(at + 1).join('\n');
        return lines.slice(0, at + 1);
      }
      if (this.ended) return [...lines.filter((l) => l !== ''), 'closed'];
      if (Date.now() > deadline) throw new Error(`timed out waiting for "${prefix}" (have ${JSON.stringify(this.buffered)})`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 100);
      });
    }
  }
}

describe('a line protocol registered beside protocol 3', () => {
  it('logs in, runs SQL on the shared engine, and reports errors through its reportError hook', async () => {
    const sessions = engine.sessions;
    const c = await LineClient.connect(linesPort);
    try {
      c.send('user alice');
      const login = await c.until('ready');
      expect(login).toHaveLength(2);
      expect(login[0]).toMatch(/^key \d+ [0-9a-f]{8}$/);
      expect(login[1]).toBe('ready I');
      expect(engine.sessions).toBe(sessions + 1);
      c.send('select 7');
      expect(await c.until('ready')).toEqual(['7', 'done SELECT 1', 'ready I']);
      c.send('fail');
      expect(await c.until('ready')).toEqual(['error P0001 failed on purpose', 'ready I']);
      c.send('notice over lines');
      expect(await c.until('ready')).toEqual(['notice over lines', 'done DO', 'ready I']);
      c.send('quit');
      expect(await c.until('never')).toEqual(['closed']);
    } finally {
      c.socket.destroy();
    }
  });

  it('refuses a user without a trust entry, as its authenticate hook says', async () => {
    const c = await LineClient.connect(linesPort);
    try {
      c.send('user carol');
      expect(await c.until('never')).toEqual(['error 28000 no trust entry for user "carol"', 'closed']);
    } finally {
      c.socket.destroy();
    }
  });

  it('is cancelled by a PostgreSQL CancelRequest with the key it was given (one cancel table)', async () => {
    const c = await LineClient.connect(linesPort);
    try {
      c.send('user alice');
      const [keyLine] = await c.until('ready');
      const [, pid, secret] = keyLine!.split(' ');
      c.send('sleep');
      await waitFor(() => engine.queries.at(-1) === 'sleep', 5000, 'the statement to start');
      await cancelVia(plainPort, { processId: Number(pid), secretKey: Buffer.from(secret!, 'hex') });
      expect(await c.until('ready')).toEqual(['error 57014 canceling statement due to user request', 'ready I']);
    } finally {
      c.socket.destroy();
    }
  });
});

describe('one shutdown for every listener', () => {
  it('server.close() ends the sessions of all three protocols', async () => {
    const { server: local, ports } = await threeProtocols(new ScriptedEngine());
    try {
      const plain = await RawClient.connect(ports[0]);
      const tweaked = await RawClient.connect(ports[1]);
      await plain.login('alice');
      await tweaked.login('alice');
      const lines = await LineClient.connect(ports[2]);
      lines.send('user alice');
      await lines.until('ready');
      expect(local.connectionCount).toBe(3);
      await local.close();
      const shutdown = { severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' };
      for (const c of [plain, tweaked]) {
        const got = await c.drainToClose();
        expect(got.map((m) => m.type)).toEqual(['ErrorResponse', 'Closed']);
        expect(readErrorFields(got[0] as Parameters<typeof readErrorFields>[0])).toMatchObject(shutdown);
      }
      expect(await lines.until('never')).toEqual(['error 57P01 terminating connection due to administrator command', 'closed']);
      expect(local.connectionCount).toBe(0);
    } finally {
      await local.close();
    }
  });
});
