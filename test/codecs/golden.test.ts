/**
 * Real conversations (PostgreSQL 15 with psql, pgbench, node-postgres, postgres.js, psycopg,
 * asyncpg, pgJDBC, pgx; see test/fixtures/captures/README.md) plus hand-made ones for what those
 * never show: every byte of both directions decodes, and every message re-encodes to exactly its
 * original bytes.
 */
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBackend, encodeFrontend, MESSAGES, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import { Writer } from '../../runtime/wire/index.js';
import { hex } from './support/codecs.js';
import { chunksOf, decodeConnection, loadCaptures, type Capture, type Decoded } from './support/conversation.js';

const recorded = loadCaptures();
const handMade = loadCaptures(join(import.meta.dirname, 'fixtures'));
const captures: Capture[] = [...recorded, ...handMade];

function reencode(dir: 'F' | 'B', d: Decoded): string {
  const w = new Writer(64);
  if (dir === 'F') encodeFrontend(w, d.message as unknown as FrontendMessage);
  else encodeBackend(w, d.message as unknown as BackendMessage);
  return hex(w.take());
}

const seen = new Map<string, Set<string>>();

describe.each(captures.map((c) => [c.name, c] as const))('%s', (_, capture) => {
  it.each(capture.connections.map((conn, i) => [i, conn] as const))('connection %i decodes completely and re-encodes byte for byte', (_, conn) => {
    const { F, B } = chunksOf(conn);
    const decoded = decodeConnection(F, B);
    expect(decoded.leftover).toEqual({ frontend: 0, backend: 0 });
    // Every byte belongs to exactly one message.
    expect(decoded.frontend.reduce((n, d) => n + d.bytes.length, 0)).toBe(Buffer.concat(F).length);
    expect(decoded.backend.reduce((n, d) => n + d.bytes.length, 0)).toBe(Buffer.concat(B).length);
    for (const [dir, list] of [['F', decoded.frontend], ['B', decoded.backend]] as const) {
      for (const d of list) {
        expect(reencode(dir, d), `${dir} ${d.message.type}`).toBe(hex(d.bytes));
        const set = seen.get(d.message.type) ?? new Set<string>();
        set.add(capture.name);
        seen.set(d.message.type, set);
      }
    }
  });
});

describe('the capture set', () => {
  it('has recordings from the clients the issue names', () => {
    const clients = new Set(recorded.map((c) => c.client));
    for (const client of ['psql', 'pgbench', 'node-postgres', 'postgres.js', 'psycopg']) {
      expect([...clients].some((c) => c.toLowerCase().replace(/[^a-z]/g, '').includes(client.replace(/[^a-z]/g, ''))), client).toBe(true);
    }
  });

  it('covers a decent range of message types; the rest are ones PostgreSQL 15 over plaintext never sends to these clients', () => {
    // Filled by the per-connection tests above, which run first in this file.
    const all = Object.keys(MESSAGES);
    const missing = all.filter((name) => !seen.has(name));
    // GSSAPI/SSPI/Kerberos need a KDC, TLS acceptance needs ssl=on, CopyBoth needs replication.
    const unreachable = [
      'AuthenticationKerberosV5',
      'AuthenticationGSS',
      'AuthenticationGSSContinue',
      'AuthenticationSSPI',
      'GSSResponse',
      'SSLAccepted',
      'GSSENCAccepted',
      'CopyBothResponse',
    ];
    console.info(`message types never seen in the captures (${missing.length} of ${all.length}): ${missing.join(', ')}`);
    expect(missing.filter((m) => !unreachable.includes(m))).toEqual([]);
    expect(all.length - missing.length).toBeGreaterThanOrEqual(45);
  });

  it('recorded captures alone cover at least 40 message types', () => {
    const fromRecorded = [...seen].filter(([, names]) => [...names].some((n) => recorded.some((c) => c.name === n)));
    expect(fromRecorded.length).toBeGreaterThanOrEqual(40);
  });
});
