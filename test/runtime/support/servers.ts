/** Starting pgspec servers over the trivial engine for the runtime tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineSession, Engine, SessionEvents, SessionStart } from '../../../runtime/engine.js';
import { TrivialEngine } from '../../../runtime/engines/trivial/trivial-engine.js';
import { PgServer, type ServerOptions } from '../../../runtime/server/server.js';
import { makeCertificate } from '../../auth/certificates.js';

export interface RunningServer {
  readonly server: PgServer;
  readonly port: number;
  close(): Promise<void>;
}

export async function startServer(options: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const server = new PgServer({ engine: new TrivialEngine(), listeners: [{ host: '127.0.0.1', port: 0 }], ...options });
  const [address] = await server.listen();
  return { server, port: address!.port!, close: () => server.close() };
}

/** A self-signed RSA certificate made with openssl, also written to files for libpq. */
export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly dir: string;
  remove(): void;
}

export function makeCertificateFiles(): CertificateFiles {
  const c = makeCertificate('rsa-sha256');
  const dir = mkdtempSync(join(tmpdir(), 'pgspec-runtime-tls-'));
  const certFile = join(dir, 'root.crt');
  writeFileSync(certFile, c.certPem);
  return { cert: c.certPem, key: c.keyPem, certFile, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The trivial engine, counting the cancels its sessions receive. */
export class CountingEngine implements Engine {
  readonly name = 'counting-trivial';
  private readonly inner = new TrivialEngine();
  cancels = 0;
  sessions = 0;

  async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
    const s = await this.inner.openSession(start, events);
    this.sessions++;
    return {
      parameterStatus: s.parameterStatus,
      execute: (messages, out) => s.execute(messages, out),
      cancel: () => {
        this.cancels++;
        s.cancel();
      },
      close: () => s.close(),
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Resolves when `check` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
