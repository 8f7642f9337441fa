#!/usr/bin/env node
/** The `pgspec` command: serve, generate, docs. */
import { readFileSync } from 'node:fs';
import { PgServer, type ServerOptions } from '../runtime/server/server.js';
import { TrivialEngine } from '../runtime/engines/trivial/trivial-engine.js';
import type { Engine } from '../runtime/engine.js';
import { parseServeArgs, SERVE_HELP, type ServeSettings } from './serve-options.js';

const HELP = `usage: pgspec <command> [options]

  serve      run a PostgreSQL-compatible server (embedded PostgreSQL by default, or a proxy)
  trace      print every message between a client and a server, decoded and checked
  generate   validate spec directories and generate codecs, state tables and docs
  docs       build the protocol documentation site

Run pgspec <command> --help for the options of each.
`;

async function createEngine(s: ServeSettings): Promise<Engine> {
  if (s.upstream) {
    const { ProxyEngine } = await import('../runtime/engines/proxy/index.js');
    return new ProxyEngine({ upstream: s.upstream });
  }
  if (s.engine === 'trivial') return new TrivialEngine();
  const { PgliteEngine } = await import('../runtime/engines/pglite/index.js');
  const engine = await PgliteEngine.create(s.dataDir ? { dataDir: s.dataDir } : {});
  if (s.executorPort === undefined) return engine;
  const { pgliteExecutor } = await import('../runtime/extend-protocol/pglite-executor.js');
  return pgliteExecutor(engine);
}

/** Plain protocol 3 on --port; with --executor-port, the Cloudberry executor dialect beside it. */
async function listenersOf(s: ServeSettings): Promise<Pick<ServerOptions, 'protocols' | 'listeners'>> {
  const plain = { host: s.host, port: s.port };
  if (s.executorPort === undefined) return { listeners: [plain] };
  const { EXECUTOR_PROTOCOL, cloudberryExecutorProtocol } = await import('../runtime/extend-protocol/executor-protocol.js');
  return { protocols: [cloudberryExecutorProtocol()], listeners: [plain, { protocol: EXECUTOR_PROTOCOL, host: s.host, port: s.executorPort }] };
}

async function serve(argv: readonly string[]): Promise<number> {
  const settings = parseServeArgs(argv);
  if (settings === 'help') {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const engine = await createEngine(settings);
  const server = new PgServer({
    engine,
    users: settings.users,
    ...(await listenersOf(settings)),
    ...(settings.tlsCert && settings.tlsKey ? { tls: { cert: readFileSync(settings.tlsCert), key: readFileSync(settings.tlsKey) } } : {}),
  });
  const [addr, executor] = await server.listen();
  const user = settings.users.map((u) => u.split(':')[0]).find((n) => n && n !== '*') ?? 'postgres';
  const host = addr!.host!.includes(':') ? `[${addr!.host}]` : addr!.host;
  process.stdout.write(`pgspec: ${engine.name} engine listening on ${host}:${addr!.port}\n`);
  if (executor) process.stdout.write(`pgspec: Cloudberry executor (protocol 3 + 'e') listening on ${host}:${executor.port}\n`);
  process.stdout.write(`connect with: psql "postgres://${user}@${host}:${addr!.port}/postgres"\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('pgspec: shutting down\n');
      void server.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'trace': {
      const { trace } = await import('./trace.js');
      return trace(rest);
    }
    case 'generate': {
      const { runGenerate } = await import('../generator/main.js');
      const r = runGenerate(rest);
      (r.exitCode === 0 ? process.stdout : process.stderr).write(r.output + '\n');
      return r.exitCode;
    }
    case 'docs': {
      const { runDocs } = await import('../generator/docs/main.js');
      const r = await runDocs(rest);
      (r.exitCode === 0 ? process.stdout : process.stderr).write(r.output + '\n');
      return r.exitCode;
    }
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(HELP);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command ${command}\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`pgspec: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
