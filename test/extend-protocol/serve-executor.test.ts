/**
 * `pgspec serve --executor-port`: the CLI starts the Cloudberry executor dialect on PGlite on a
 * second listener beside plain protocol 3.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudberryExtendProtocol } from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { parseServeArgs, SERVE_HELP } from '../../cli/serve-options.js';
import { PgClientConnection } from '../../runtime/client/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('pgspec serve options', () => {
  it('takes --executor-port, from a flag or the config file, for the pglite engine only', () => {
    expect(parseServeArgs(['--port', '0', '--executor-port', '6433'])).toMatchObject({ port: 0, executorPort: 6433, engine: 'pglite' });
    expect(() => parseServeArgs(['--executor-port', 'x'])).toThrow('--executor-port: not a port number: x');
    expect(() => parseServeArgs(['--executor-port', '6433', '--engine', 'trivial'])).toThrow('needs the pglite engine');
    expect(() => parseServeArgs(['--executor-port', '6433', '--upstream', 'postgres://h/db'])).toThrow('needs the pglite engine');
    expect(SERVE_HELP).toContain('--executor-port PORT');
  });
});

describe('pgspec serve --port 0 --executor-port 0', () => {
  let child: ChildProcess | undefined;
  let ports: { plain: number; executor: number };

  beforeAll(async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'pgspec.ts'), 'serve', '--port', '0', '--executor-port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let printed = '';
    ports = await new Promise((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        printed += chunk.toString();
        const plain = /engine listening on 127\.0\.0\.1:(\d+)/.exec(printed);
        const executor = /Cloudberry executor .* listening on 127\.0\.0\.1:(\d+)/.exec(printed);
        if (plain && executor) resolve({ plain: Number(plain[1]), executor: Number(executor[1]) });
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`pgspec serve exited with ${code}: ${printed}`)));
    });
  }, 120_000);

  afterAll(async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });

  it("reports to a dispatcher on the executor port, and plain protocol 3 on the other", async () => {
    const plain = await PgClientConnection.connect({ host: '127.0.0.1', port: ports.plain, user: 'postgres', tls: 'disable', extensions: [cloudberryExtendProtocol] });
    const qd = await PgClientConnection.connect({ host: '127.0.0.1', port: ports.executor, user: 'postgres', tls: 'disable', extensions: [cloudberryExtendProtocol] });
    try {
      expect(plain.unrecognizedOptions).toEqual([cloudberryExtendProtocol.option]);
      expect(qd.unrecognizedOptions).toEqual([]);
      await plain.query('CREATE TABLE served (k int)');
      await plain.query('INSERT INTO served VALUES (1)');
      expect(plain.extendProtocolData!.hasUnconsumed()).toBe(false);
      const [[relid]] = (await qd.query("SELECT 'served'::regclass::oid"))[0]!.rows as [[string]];
      await qd.query('BEGIN');
      await qd.query('INSERT INTO served VALUES (2)');
      expect(qd.extendProtocolData!.consumeModifiedRelations()).toEqual({ inserted: [Number(relid)], updated: [], deleted: [] });
      await qd.query('COMMIT');
    } finally {
      await Promise.all([plain.close(), qd.close()]);
    }
  });
});
