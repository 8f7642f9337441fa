/**
 * A malformed 'e' from a (fake) server is a protocol error naming the message: the client closes
 * with it. What it does not lose: a malformed message is decoded whole or not at all, so none of
 * its blocks is stored, and blocks stored from earlier well-formed messages stay consumable after
 * the error (no transaction boundary is seen once the connection is gone, so nothing clears them
 * and no commit warning is raised).
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { cloudberryExtendProtocol, ExtendProtocolSubtag } from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { ClientProtocolError, PgClientConnection } from '../../runtime/client/index.js';
import { modifiedRelationBlocks } from '../../runtime/extend-protocol/executor.js';
import { startFakeServer, type FakeBackend, type FakeServer } from '../client/support/fake-server.js';

let fake: FakeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
/** An 'e' message around a raw body. */
const eMessage = (body: Buffer): Buffer => Buffer.concat([Buffer.from('e'), int32(body.length + 4), body]);

/** Answers the first Query with a well-formed 'e' (Inserted: 16401) inside a transaction block, the second with `bad`. */
function script(bad: Buffer) {
  return async (b: FakeBackend): Promise<void> => {
    await b.trustLogin();
    await b.readUntil('Query');
    b.send(
      { type: 'ExtendProtocol', blocks: modifiedRelationBlocks({ inserted: [16401], updated: [], deleted: [] }) },
      { type: 'CommandComplete', tag: 'INSERT 0 1' },
      { type: 'ReadyForQuery', status: 'T' },
    );
    await b.readUntil('Query');
    b.raw(bad);
    await b.read();
  };
}

async function connect(port: number): Promise<PgClientConnection> {
  return PgClientConnection.connect({ host: '127.0.0.1', port, user: 'qd', tls: 'disable', extensions: [cloudberryExtendProtocol] });
}

const cases: [string, Buffer, string][] = [
  ['a subtag out of range', eMessage(Buffer.concat([int32(7), int32(0), int32(3)])), 'not a known ExtendProtocolSubtag'],
  ['a negative subtag', eMessage(Buffer.concat([int32(-1), int32(0), int32(3)])), 'not a known ExtendProtocolSubtag'],
  ['a block length past the end', eMessage(Buffer.concat([int32(0), int32(100), Buffer.alloc(8), int32(3)])), 'needs 100 bytes'],
  ['no End subtag', eMessage(Buffer.concat([int32(0), int32(8), int32(1), int32(16402)])), 'needs 4 bytes'],
  ['bytes after the End subtag', eMessage(Buffer.concat([int32(3), int32(0)])), 'bytes left after the last field'],
];

describe('a malformed e message', () => {
  it.each(cases)('with %s closes the connection with a protocol error naming ExtendProtocol', async (_name, bad, text) => {
    fake = await startFakeServer(script(bad), [cloudberryExtendProtocol]);
    const qd = await connect(fake.port);
    const closed = new Promise<Error | undefined>((r) => qd.once('close', r));
    await qd.query('INSERT INTO t VALUES (1)');
    expect(qd.extendProtocolData!.hasUnconsumed(ExtendProtocolSubtag.Inserted)).toBe(true);

    const err = await qd.query('INSERT INTO t VALUES (2)').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClientProtocolError);
    expect((err as ClientProtocolError).messageName).toBe('ExtendProtocol');
    expect((err as ClientProtocolError).state).toBe('SimpleQuery');
    expect((err as Error).message).toContain(text);
    expect(await closed).toBe(err);
    expect(qd.closed).toBe(true);

    // The earlier message's blocks survive the error; none of the bad message's were stored.
    expect(qd.extendProtocolData!.consumeModifiedRelations()).toEqual({ inserted: [16401], updated: [], deleted: [] });
    expect(qd.extendProtocolData!.warnings).toEqual([]);
  });

  it('sent while the session is idle is a state violation naming ExtendProtocol and Ready', async () => {
    fake = await startFakeServer(async (b) => {
      await b.trustLogin();
      b.send({ type: 'ExtendProtocol', blocks: [] });
      await b.read();
    }, [cloudberryExtendProtocol]);
    const qd = await connect(fake.port);
    // The 'e' came right behind ReadyForQuery: the connection failed as soon as it was made.
    const err = await qd.query('select 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClientProtocolError);
    expect(err).toMatchObject({ messageName: 'ExtendProtocol', state: 'Ready' });
    expect(qd.closed).toBe(true);
  });

  it('from a server that did not grant the option is a protocol error', async () => {
    fake = await startFakeServer(async (b) => {
      await b.read();
      b.send(
        { type: 'NegotiateProtocolVersion', newestVersion: 196608, unrecognizedOptions: [cloudberryExtendProtocol.option] },
        { type: 'AuthenticationOk' },
        { type: 'BackendKeyData', processId: 1, secretKey: new Uint8Array(4) },
        { type: 'ReadyForQuery', status: 'I' },
      );
      await b.readUntil('Query');
      b.send({ type: 'ExtendProtocol', blocks: [] }, { type: 'CommandComplete', tag: 'INSERT 0 1' }, { type: 'ReadyForQuery', status: 'I' });
      await b.read();
    }, [cloudberryExtendProtocol]);
    const qd = await connect(fake.port);
    await expect(qd.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ messageName: 'ExtendProtocol', message: expect.stringContaining('not granted') });
  });
});

describe('the control for the listener test', () => {
  it("node-postgres fails on an 'e' it was not expecting", async () => {
    fake = await startFakeServer(async (b) => {
      await b.trustLogin();
      await b.readUntil('Query');
      b.send({ type: 'ExtendProtocol', blocks: [] }, { type: 'CommandComplete', tag: 'INSERT 0 1' }, { type: 'ReadyForQuery', status: 'I' });
      await b.read();
    }, [cloudberryExtendProtocol]);
    const client = new pg.Client({ host: '127.0.0.1', port: fake.port, user: 'app', database: 'app' });
    client.on('error', () => undefined);
    await client.connect();
    await expect(client.query('INSERT INTO t VALUES (1)')).rejects.toThrow(/received invalid response: 65/);
    await client.end().catch(() => undefined);
  });
});
