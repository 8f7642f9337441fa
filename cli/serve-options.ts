/** `pgspec serve` settings from flags and an optional JSON/YAML config file (flags win). */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { flagValue } from './args.js';

export interface ServeSettings {
  host: string;
  port: number;
  engine: 'pglite' | 'trivial';
  /** Serve from this upstream server (the proxy engine) instead of `engine`. */
  upstream?: string;
  dataDir?: string;
  /** Also serve the Cloudberry executor dialect (protocol 3 + 'e') on this port (the pglite engine only). */
  executorPort?: number;
  tlsCert?: string;
  tlsKey?: string;
  users: string[];
}

export const SERVE_HELP = `usage: pgspec serve [options]

Runs a PostgreSQL-compatible server on the embedded PostgreSQL (PGlite) engine.

  --host HOST          address to listen on (default 127.0.0.1)
  --port PORT          port (default 5432; 0 picks a free one)
  --data-dir DIR       keep the database in DIR (default: in memory)
  --engine NAME        pglite (default) or trivial (answers SELECT n only; for benchmarks)
  --upstream URL       proxy every session to this server instead:
                         postgres://user:password@host:port/database?sslmode=prefer
                       (no user/database in the URL: the client's are used upstream)
  --executor-port PORT also listen on PORT (0 picks a free one) as a Cloudberry executor: clients
                       that send _pq_.cloudberry_extend_protocol get an 'e' message before each
                       CommandComplete naming the relations (leaf partitions) an INSERT, UPDATE or
                       DELETE modified; others see plain PostgreSQL (pglite engine only)
  --tls-cert FILE      PEM certificate: enables SSLRequest and direct TLS
  --tls-key FILE       PEM private key for --tls-cert
  --user SPEC          a user and how it authenticates, repeatable:
                         name:trust | name:password:SECRET | name:md5:SECRET | name:scram-sha-256:SECRET
                       "*" as the name is the rule for every other user (default: *:trust)
  --config FILE        the same settings as a YAML or JSON file:
                         host, port, executorPort, dataDir, engine, upstream, tlsCert, tlsKey, users: [specs]
  -h, --help           this text
`;

export function parseServeArgs(argv: readonly string[]): ServeSettings | 'help' {
  const s: ServeSettings = { host: '127.0.0.1', port: 5432, engine: 'pglite', users: [] };
  const flagUsers: string[] = [];
  let config: Partial<ServeSettings> = {};
  const need = (i: number, flag: string): string => flagValue(argv, i, flag);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '-h':
      case '--help':
        return 'help';
      case '--host':
        s.host = need(++i, a);
        break;
      case '--port':
        s.port = portNumber(need(++i, a), a);
        break;
      case '--executor-port':
        s.executorPort = portNumber(need(++i, a), a);
        break;
      case '--data-dir':
        s.dataDir = need(++i, a);
        break;
      case '--engine': {
        const e = need(++i, a);
        if (e !== 'pglite' && e !== 'trivial') throw new Error(`--engine: expected pglite or trivial, got ${e}`);
        s.engine = e;
        break;
      }
      case '--upstream':
        s.upstream = need(++i, a);
        break;
      case '--tls-cert':
        s.tlsCert = need(++i, a);
        break;
      case '--tls-key':
        s.tlsKey = need(++i, a);
        break;
      case '--user':
        flagUsers.push(need(++i, a));
        break;
      case '--config':
        config = parseYaml(readFileSync(need(++i, a), 'utf8')) as Partial<ServeSettings>;
        break;
      default:
        throw new Error(`unknown option ${a} (see pgspec serve --help)`);
    }
  }
  const explicit = new Set(argv.filter((a) => a.startsWith('--')));
  const merged: ServeSettings = {
    host: explicit.has('--host') ? s.host : (config.host ?? s.host),
    port: explicit.has('--port') ? s.port : (config.port ?? s.port),
    engine: explicit.has('--engine') ? s.engine : (config.engine ?? s.engine),
    users: flagUsers.length ? flagUsers : (config.users ?? ['*:trust']),
  };
  const upstream = s.upstream ?? config.upstream;
  if (upstream) merged.upstream = upstream;
  const executorPort = s.executorPort ?? config.executorPort;
  if (executorPort !== undefined) {
    merged.executorPort = portNumber(String(executorPort), 'executorPort');
    if (merged.upstream || merged.engine !== 'pglite') throw new Error('--executor-port needs the pglite engine (it measures what statements modified inside PGlite)');
  }
  const dataDir = s.dataDir ?? config.dataDir;
  const tlsCert = s.tlsCert ?? config.tlsCert;
  const tlsKey = s.tlsKey ?? config.tlsKey;
  if (dataDir) merged.dataDir = dataDir;
  if (tlsCert) merged.tlsCert = tlsCert;
  if (tlsKey) merged.tlsKey = tlsKey;
  if (Boolean(merged.tlsCert) !== Boolean(merged.tlsKey)) throw new Error('--tls-cert and --tls-key go together');
  return merged;
}

function portNumber(text: string, flag: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag}: not a port number: ${text}`);
  return port;
}
