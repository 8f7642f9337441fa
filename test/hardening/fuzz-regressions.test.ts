/**
 * What the fuzzing and hostile-client runs found, kept as regression tests. The decoder fuzzer
 * found nothing in its runs (see docs/limits-and-guarantees.md); these come from the server side.
 */
import { Buffer } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRONTEND_TABLE } from '../../generated/index.js';
import { StreamDecoder } from '../../runtime/wire/index.js';
import { HandlerEngine } from '../../runtime/engines/handlers/index.js';
import { RawClient, encode, errorOf, shape, startup } from '../runtime/support/raw-client.js';
import { startServer, type RunningServer } from '../runtime/support/servers.js';

describe('out of turn during authentication', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer({ users: ['carl:password:pw', 'alice:scram-sha-256:pw'] });
  });
  afterAll(() => s.close());

  // Found: the violation message read "invalid frontend message type ?" (no type byte was given
  // to the state machine on the authentication path).
  it('names the type byte in the violation', async () => {
    const c = await RawClient.connect(s.port);
    c.send(startup('carl'));
    await c.until('AuthenticationCleartextPassword');
    c.send({ type: 'Sync' });
    const got = await c.drainToClose();
    expect(shape(got)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '08P01', message: 'expected password response, got message type 83' });
  });

  // Found: a header claiming a large body before login was waited for (up to 1 GB buffered
  // before authentication); PostgreSQL refuses it by its type byte, before reading any body.
  it.each(['Q', 'P', 'd', 'F'])("a '%s' header claiming 1 GB is refused on its type byte, with no body sent", async (type) => {
    const c = await RawClient.connect(s.port);
    c.send(startup('alice'));
    await c.until('AuthenticationSASL');
    const header = Buffer.alloc(5);
    header.write(type);
    header.writeInt32BE(1_000_000_000, 1);
    c.write(header);
    const got = await c.drainToClose(2000);
    expect(shape(got)).toEqual(['ErrorResponse', 'Closed']);
    expect(errorOf(got)).toMatchObject({ severity: 'FATAL', code: '08P01', message: `expected SASL response, got message type ${type.charCodeAt(0)}` });
  });

  it('the expected response still works when it arrives a byte at a time', async () => {
    const c = await RawClient.connect(s.port);
    c.send(startup('carl'));
    await c.until('AuthenticationCleartextPassword');
    for (const byte of encode({ type: 'PasswordMessage', password: 'pw' })) {
      c.write(Buffer.from([byte]));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect((await c.until('ReadyForQuery')).at(-1)!.type).toBe('ReadyForQuery');
    c.close();
  });
});

describe('StreamDecoder.peek', () => {
  it('shows the next byte without consuming it, across chunks', () => {
    const d = new StreamDecoder(FRONTEND_TABLE);
    expect(d.peek()).toBeUndefined();
    d.push(Buffer.from('S'));
    expect(d.peek()).toBe(0x53);
    d.push(Buffer.from([0, 0, 0, 4]));
    expect(d.next()).toEqual({ type: 'Sync' });
    expect(d.peek()).toBeUndefined();
    d.push(Buffer.from('H'));
    expect(d.peek()).toBe(0x48);
    expect(d.buffered).toBe(1);
  });
});

describe('server shutdown with a client that never reads', () => {
  // Found: PgServer.close() never resolved while a session waited for a client that had stopped
  // reading to drain its socket.
  it('drops the stuck session after a grace period instead of waiting forever', async () => {
    const row = 'y'.repeat(1000);
    const s = await startServer({
      engine: new HandlerEngine({
        prepare: () => ({ columns: [{ name: 'y', type: 'text' }] }),
        execute: () => ({ rows: Array.from({ length: 5000 }, () => [row]) }),
      }),
    });
    const c = await RawClient.connect(s.port);
    await c.login('bob');
    c.socket.pause();
    c.write(Buffer.concat(Array.from({ length: 50 }, () => encode({ type: 'Query', query: 'big' }))));
    await new Promise((r) => setTimeout(r, 300));
    const t = Date.now();
    await s.close();
    expect(Date.now() - t).toBeLessThan(10_000);
    c.close();
  }, 20_000);
});
