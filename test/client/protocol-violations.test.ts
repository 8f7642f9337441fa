/**
 * A server that breaks the protocol is reported as a ClientProtocolError naming the message and
 * the state it arrived in, and the connection is closed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClientProtocolError, PgClientConnection, PgError } from '../../runtime/client/index.js';
import { startFakeServer, type FakeBackend, type FakeServer } from './support/fake-server.js';

let fake: FakeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function failure(script: (b: FakeBackend) => Promise<void>, run?: (c: PgClientConnection) => Promise<unknown>, tls: 'disable' | 'prefer' = 'disable'): Promise<unknown> {
  fake = await startFakeServer(script);
  try {
    const c = await PgClientConnection.connect({ host: '127.0.0.1', port: fake.port, user: 'u', password: 'pw', tls });
    await run?.(c);
    return await c.query('select 1').then(() => undefined);
  } catch (e) {
    return e;
  }
}

describe('a server that breaks the state machine', () => {
  it('ReadyForQuery before authentication', async () => {
    const err = await failure(async (b) => {
      await b.read();
      b.send({ type: 'ReadyForQuery', status: 'I' });
      await b.read();
    });
    expect(err).toBeInstanceOf(ClientProtocolError);
    expect(err).toMatchObject({ messageName: 'ReadyForQuery', state: 'StartupReceived', code: '08P01' });
  });

  it('a DataRow while the session is idle', async () => {
    const err = await failure(
      async (b) => {
        await b.trustLogin();
        await b.readUntil('Query');
        b.send({ type: 'CommandComplete', tag: 'SELECT 0' }, { type: 'ReadyForQuery', status: 'I' }, { type: 'CommandComplete', tag: 'SELECT 0' });
        await b.read();
      },
      (c) => c.query('select 1'),
    );
    expect(err).toMatchObject({ name: 'ClientProtocolError', messageName: 'CommandComplete', state: 'Ready' });
  });

  it('BackendKeyData answering a simple Query', async () => {
    const err = await failure(async (b) => {
      await b.trustLogin();
      await b.readUntil('Query');
      b.send({ type: 'BackendKeyData', processId: 1, secretKey: Buffer.alloc(4) });
      await b.read();
    });
    expect(err).toMatchObject({ messageName: 'BackendKeyData', state: 'SimpleQuery' });
  });

  it('an unknown message type', async () => {
    const err = await failure(async (b) => {
      await b.trustLogin();
      await b.readUntil('Query');
      b.raw(Buffer.from([0x71, 0, 0, 0, 4]));
      await b.read();
    });
    expect(err).toBeInstanceOf(ClientProtocolError);
    expect((err as Error).message).toContain("'q'");
  });

  it('plaintext bytes right behind the TLS acceptance', async () => {
    const err = await failure(
      async (b) => {
        await b.read();
        b.raw(Buffer.from('SR'));
        await b.read();
      },
      undefined,
      'prefer',
    );
    expect(err).toMatchObject({ messageName: 'SSLAccepted', message: expect.stringContaining('unencrypted data after SSL response') });
  });

  it('AuthenticationOk without finishing SCRAM', async () => {
    const err = await failure(async (b) => {
      await b.read();
      b.send({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] });
      b.expectP = 'SASLInitialResponse';
      await b.read();
      b.send({ type: 'AuthenticationOk' });
      await b.read();
    });
    // The state machine allows it (a server may skip SASLFinal); the client's SCRAM check does not.
    expect(err).toBeInstanceOf(PgError);
    expect((err as Error).message).toContain('before completing the SCRAM exchange');
  });
});
