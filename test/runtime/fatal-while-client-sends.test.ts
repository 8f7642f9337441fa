/**
 * A FATAL the server sends while the client is still sending must reach the client. Closing a
 * socket with the client's bytes still unread makes TCP reset the connection, and the reset can
 * discard the FATAL before the client reads it: the client then reports EPIPE or ECONNRESET
 * instead of the server's error. The server half-closes and reads and discards what the client
 * still sends until the client closes (see runtime/server/lingering-close.ts).
 *
 * The raw client, which writes everything before it reads, loses the FATAL to an abrupt close
 * at every run. node-postgres reads while it writes, so on loopback it has read the FATAL before
 * its failed write is reported: its test holds with an abrupt close too, and is here for what a
 * real client gets from a FATAL in the middle of its COPY.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithClient } from '../support/clients.js';
import { RawClient, encode, errorOf, shape } from './support/raw-client.js';
import { ScriptedEngine } from './support/scripted-engine.js';
import { makeCertificateFiles, startServer, waitFor, type CertificateFiles, type RunningServer } from './support/servers.js';

// pg-copy-streams ships no types.
const require = createRequire(import.meta.url);
const { from: copyFrom } = require('pg-copy-streams') as { from(sql: string): pg.Submittable & NodeJS.WritableStream };

const ROWS = Buffer.alloc(64 * 1024, 'y\n');
const COPY_DATA = encode({ type: 'CopyData', data: ROWS });
const AFTER_THE_FATAL = 'select 2';
/** What the client sends into a COPY: some rows, a Parse that ends the session, then 8 MB of rows and a Query. */
const FLOOD = Buffer.concat([
  COPY_DATA,
  encode({ type: 'Parse', statement: '', query: 'select 1', parameterTypes: [] }),
  ...Array<Buffer>(128).fill(COPY_DATA),
  encode({ type: 'CopyDone' }, { type: 'Query', query: AFTER_THE_FATAL }),
]);

describe('a FATAL while the client floods a COPY', () => {
  let cert: CertificateFiles;
  let engine: ScriptedEngine;
  let s: RunningServer;
  beforeAll(async () => {
    cert = makeCertificateFiles();
    engine = new ScriptedEngine();
    s = await startServer({ engine, users: ['alice:trust'], tls: { cert: cert.cert, key: cert.key } });
  });
  afterAll(async () => {
    await s?.close();
    cert?.remove();
  });

  for (const transport of ['plain TCP', 'TLS']) {
    it(`${transport}: reaches a client that writes 8 MB more before it reads, in every one of 20 runs`, async () => {
      for (let run = 0; run < 20; run++) {
        const c = await RawClient.connect(s.port);
        try {
          if (transport === 'TLS') {
            await c.request({ type: 'SSLRequest' });
            await c.startTls();
          }
          await c.login('alice');
          c.send({ type: 'Query', query: 'copy in' });
          await c.until('CopyInResponse');
          // Nothing is read until the whole flood is written (or the write fails).
          c.socket.pause();
          const writeError = await new Promise<Error | null | undefined>((resolve) => c.socket.write(FLOOD, resolve));
          c.socket.resume();
          const got = await c.drainToClose();
          const why = `run ${run}, the client's write: ${writeError?.message ?? 'complete'}`;
          // The COPY's failure, then the FATAL that ends the session, then the end of the connection.
          expect(shape(got), why).toEqual(['ErrorResponse', 'ErrorResponse', 'Closed']);
          expect(errorOf(got.slice(1))).toMatchObject({ severity: 'FATAL', code: '08P01', message: 'terminating connection because protocol synchronization was lost' });
          // What came after the FATAL was read only to be dropped.
          expect(engine.queries).not.toContain(AFTER_THE_FATAL);
        } finally {
          c.close();
        }
      }
    });
  }
});

describeWithClient('node-pg', 'a FATAL while node-postgres streams COPY FROM STDIN', () => {
  it('the server shutting down mid-COPY: node-postgres reports 57P01, not EPIPE or ECONNRESET, in every one of 5 runs', async () => {
    for (let run = 0; run < 5; run++) {
      const s = await startServer({ engine: new ScriptedEngine(), users: ['alice:trust'] });
      const client = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'alice', database: 'postgres' });
      client.on('error', () => undefined);
      try {
        await client.connect();
        // Rows without end: the client is always in the middle of sending when the FATAL comes.
        let pushed = 0;
        const rows = new Readable({
          read() {
            pushed += ROWS.length;
            this.push(ROWS);
          },
        });
        const copying = pipeline(rows, client.query(copyFrom('copy in'))).then(
          () => undefined,
          (err: unknown) => err as Error & { code?: string },
        );
        await waitFor(() => pushed > 2 * 1024 * 1024, 10_000, 'the COPY to be under way');
        await s.close();
        const err = await copying;
        expect(err?.code, `run ${run}: ${err?.message ?? 'the COPY succeeded'}`).toBe('57P01');
      } finally {
        await client.end().catch(() => undefined);
        await s.close();
      }
    }
  }, 60_000);
});
