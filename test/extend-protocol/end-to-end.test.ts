/**
 * Cloudberry's 'e' protocol end to end over TCP, on a fake engine whose reports are fixed (OIDs
 * above 2^31, several blocks in one message; pglite-executor.test.ts runs the real one): one
 * PgServer, one engine, two listeners — plain PostgreSQL on one, the Cloudberry executor dialect on
 * the other. A dispatcher client (with the
 * extension) consumes the relation OIDs each command reports; ordinary clients on either listener
 * never see an 'e' (node-postgres's parser would fail on the unknown message type).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudberryExtendProtocol, ExtendProtocolSubtag } from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { PgClientConnection } from '../../runtime/client/index.js';
import { withModifiedRelationsReport } from '../../runtime/extend-protocol/executor.js';
import type { PgServer } from '../../runtime/server/server.js';
import { describeWithClient, runPsql } from '../support/clients.js';
import { startExecutorServer } from './support/executor-server.js';
import { FixedRelationsEngine, fixedTracker, PARTITION_A, PARTITION_B, TABLE_C } from './support/fixed-relations-engine.js';

let server: PgServer;
let plainPort: number;
let executorPort: number;

beforeAll(async () => {
  const engine = withModifiedRelationsReport(new FixedRelationsEngine(), { tracker: fixedTracker });
  ({ server, plainPort, executorPort } = await startExecutorServer(engine));
});

afterAll(async () => {
  await server?.close();
});

function dispatcher(): Promise<PgClientConnection> {
  return PgClientConnection.connect({ host: '127.0.0.1', port: executorPort, user: 'qd', tls: 'disable', extensions: [cloudberryExtendProtocol] });
}

describe('a dispatcher on the executor listener', () => {
  it('is granted the option and consumes the OIDs an INSERT reports, once', async () => {
    const qd = await dispatcher();
    try {
      expect(qd.unrecognizedOptions).toEqual([]);
      const store = qd.extendProtocolData!;
      await qd.query('BEGIN');
      await qd.query('INSERT INTO measurements VALUES (1)');
      expect(store.consumeModifiedRelations()).toEqual({ inserted: [PARTITION_A, PARTITION_B], updated: [], deleted: [] });
      // Nothing new since the last consume: nothing to consume.
      expect(store.consume(ExtendProtocolSubtag.Inserted)).toEqual([]);
      await qd.query('UPDATE measurements SET v = 2');
      await qd.query('DELETE FROM other');
      expect(store.consumeModifiedRelations()).toEqual({ inserted: [], updated: [PARTITION_A], deleted: [TABLE_C] });
      await qd.query('COMMIT');
      expect(store.warnings).toEqual([]);
    } finally {
      await qd.close();
    }
  });

  it('keeps every block per subtag, in order, until consumed', async () => {
    const qd = await dispatcher();
    try {
      await qd.query('BEGIN');
      await qd.query('INSERT INTO measurements VALUES (1)');
      await qd.execute('INSERT INTO measurements VALUES ($1)', ['2']);
      const blocks = qd.extendProtocolData!.consume(ExtendProtocolSubtag.Inserted);
      expect(blocks).toHaveLength(2);
      // The payload is a count and OIDs in host order (little-endian).
      expect(Buffer.from(blocks[0]!).readInt32LE(0)).toBe(2);
      expect(Buffer.from(blocks[0]!).readUInt32LE(8)).toBe(PARTITION_B);
      await qd.query('ROLLBACK');
    } finally {
      await qd.close();
    }
  });

  it('warns once per subtag left unconsumed at COMMIT, and clears', async () => {
    const qd = await dispatcher();
    try {
      const seen: string[] = [];
      qd.extendProtocolData!.onWarning = (w) => seen.push(w.message);
      await qd.query('BEGIN');
      await qd.query('INSERT INTO measurements VALUES (1)');
      await qd.query('INSERT INTO measurements VALUES (2)');
      await qd.query('DELETE FROM other');
      await qd.query('COMMIT');
      expect(seen).toEqual(['Extend Protocol Data unconsumed, subtag: 0', 'Extend Protocol Data unconsumed, subtag: 2']);
      expect(qd.extendProtocolData!.warnings.map((w) => [w.subtagName, w.blocks])).toEqual([
        ['Inserted', 2],
        ['Deleted', 1],
      ]);
      expect(qd.extendProtocolData!.hasUnconsumed()).toBe(false);
      // A later transaction starts empty and, consumed, commits silently.
      await qd.query('BEGIN');
      await qd.query('UPDATE measurements SET v = 3');
      expect(qd.extendProtocolData!.consumeModifiedRelations().updated).toEqual([PARTITION_A]);
      await qd.query('COMMIT');
      expect(seen).toHaveLength(2);
    } finally {
      await qd.close();
    }
  });

  it('clears without a warning at ROLLBACK', async () => {
    const qd = await dispatcher();
    try {
      await qd.query('BEGIN');
      await qd.query('INSERT INTO measurements VALUES (1)');
      expect(qd.extendProtocolData!.hasUnconsumed()).toBe(true);
      await qd.query('ROLLBACK');
      expect(qd.extendProtocolData!.hasUnconsumed()).toBe(false);
      expect(qd.extendProtocolData!.warnings).toEqual([]);
    } finally {
      await qd.close();
    }
  });

  it('ends an autocommit statement at its ReadyForQuery: consume on CommandComplete, or be warned', async () => {
    const qd = await dispatcher();
    try {
      const consumed: number[][] = [];
      const listener = (): void => void consumed.push(qd.extendProtocolData!.consumeModifiedRelations().inserted);
      qd.on('commandComplete', listener);
      await qd.query('INSERT INTO measurements VALUES (1)');
      expect(consumed).toEqual([[PARTITION_A, PARTITION_B]]);
      qd.off('commandComplete', listener);
      await qd.query('INSERT INTO measurements VALUES (1)');
      expect(qd.extendProtocolData!.warnings.map((w) => w.message)).toEqual(['Extend Protocol Data unconsumed, subtag: 0']);
    } finally {
      await qd.close();
    }
  });
});

describe('clients without the option, on both listeners at once', () => {
  it('never receive an e message, while a dispatcher on the same server does', async () => {
    const qd = await dispatcher();
    const pgClients = [plainPort, executorPort].map((port) => new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'app' }));
    // pgspec's own client without the extension has no decoder entry for 'e' either.
    const bare = await Promise.all(
      [plainPort, executorPort].map((port) => PgClientConnection.connect({ host: '127.0.0.1', port, user: 'app', tls: 'disable' })),
    );
    try {
      await Promise.all(pgClients.map((c) => c.connect()));
      await qd.query('BEGIN');
      for (const c of pgClients) {
        await c.query('BEGIN');
        await c.query('INSERT INTO measurements VALUES (1)');
        await c.query('COMMIT');
      }
      for (const c of bare) {
        await c.query('INSERT INTO measurements VALUES (1)');
        await c.execute('DELETE FROM other');
      }
      await qd.query('INSERT INTO measurements VALUES (1)');
      expect(qd.extendProtocolData!.consumeModifiedRelations().inserted).toEqual([PARTITION_A, PARTITION_B]);
      await qd.query('COMMIT');
      expect(bare.every((c) => !c.closed && c.extendProtocolData === undefined)).toBe(true);
    } finally {
      await Promise.all([...pgClients.map((c) => c.end()), ...bare.map((c) => c.close()), qd.close()]);
    }
  });

  it('asking for the option on the plain listener is answered with NegotiateProtocolVersion, and no e follows', async () => {
    const c = await PgClientConnection.connect({ host: '127.0.0.1', port: plainPort, user: 'app', tls: 'disable', extensions: [cloudberryExtendProtocol] });
    try {
      expect(c.unrecognizedOptions).toEqual([cloudberryExtendProtocol.option]);
      await c.query('BEGIN');
      await c.query('INSERT INTO measurements VALUES (1)');
      expect(c.extendProtocolData!.hasUnconsumed()).toBe(false);
      await c.query('COMMIT');
    } finally {
      await c.close();
    }
  });

  describeWithClient('psql', 'psql', () => {
    it('runs inserts on both listeners without seeing an e', async () => {
      const results = await Promise.all(
        [plainPort, executorPort].map((port) =>
          runPsql([`host=127.0.0.1 port=${port} user=app dbname=app sslmode=disable`, '-At', '-c', 'INSERT INTO measurements VALUES (1)', '-c', 'select 5']),
        ),
      );
      for (const r of results) {
        expect(r.stderr).toBe('');
        expect(r.exitCode).toBe(0);
        expect(r.stdout.trim().split('\n')).toEqual(['INSERT', '5']);
      }
    });
  });
});
