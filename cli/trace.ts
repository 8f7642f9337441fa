/** `pgspec trace`: run the wire tracer between clients and a server until interrupted. */
import { readFileSync } from 'node:fs';
import { WireTracer } from '../runtime/trace/index.js';
import { flagValue } from './args.js';

export const TRACE_HELP = `usage: pgspec trace --listen [HOST:]PORT --upstream HOST:PORT [options]

Sits between clients and a PostgreSQL-protocol server and prints every message both ways,
decoded, one per line (F → from the client, B ← from the server), marking messages the
protocol's state machine does not allow ("!! VIOLATION").

  --listen [HOST:]PORT   where clients connect (host default 127.0.0.1; port 0 picks one)
  --upstream HOST:PORT   the server to forward to
  --json                 JSON lines instead of text
  --tls-cert FILE        PEM certificate: accept client TLS (SSLRequest) and terminate it here;
                         the tracer then asks the upstream for TLS too and falls back to plaintext
  --tls-key FILE         PEM private key for --tls-cert
  -h, --help             this text

Without a certificate the tracer refuses SSLRequest and GSSENCRequest, so clients go on in
plaintext (use sslmode=prefer or disable).
`;

export interface TraceSettings {
  host: string;
  port: number;
  upstreamHost: string;
  upstreamPort: number;
  json: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

function hostPort(value: string, flag: string, defaultHost?: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? (defaultHost !== undefined && /^\d+$/.test(value) ? [value, undefined, defaultHost, value] : null);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || host === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${flag}: expected ${defaultHost !== undefined ? '[HOST:]PORT' : 'HOST:PORT'}, got ${value}`);
  }
  return { host, port };
}

export function parseTraceArgs(argv: readonly string[]): TraceSettings | 'help' {
  let listen: { host: string; port: number } | undefined;
  let upstream: { host: string; port: number } | undefined;
  const s: Partial<TraceSettings> = { json: false };
  const need = (i: number, flag: string): string => flagValue(argv, i, flag);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '-h':
      case '--help':
        return 'help';
      case '--listen':
        listen = hostPort(need(++i, a), a, '127.0.0.1');
        break;
      case '--upstream':
        upstream = hostPort(need(++i, a), a);
        break;
      case '--json':
        s.json = true;
        break;
      case '--tls-cert':
        s.tlsCert = need(++i, a);
        break;
      case '--tls-key':
        s.tlsKey = need(++i, a);
        break;
      default:
        throw new Error(`unknown option ${a} (see pgspec trace --help)`);
    }
  }
  if (listen === undefined) throw new Error('--listen is required (see pgspec trace --help)');
  if (upstream === undefined) throw new Error('--upstream is required (see pgspec trace --help)');
  if (Boolean(s.tlsCert) !== Boolean(s.tlsKey)) throw new Error('--tls-cert and --tls-key go together');
  return { host: listen.host, port: listen.port, upstreamHost: upstream.host, upstreamPort: upstream.port, json: s.json ?? false, ...(s.tlsCert ? { tlsCert: s.tlsCert, tlsKey: s.tlsKey! } : {}) };
}

export async function trace(argv: readonly string[]): Promise<number> {
  const settings = parseTraceArgs(argv);
  if (settings === 'help') {
    process.stdout.write(TRACE_HELP);
    return 0;
  }
  const tracer = new WireTracer({
    host: settings.host,
    port: settings.port,
    upstream: { host: settings.upstreamHost, port: settings.upstreamPort },
    json: settings.json,
    ...(settings.tlsCert && settings.tlsKey ? { tls: { cert: readFileSync(settings.tlsCert), key: readFileSync(settings.tlsKey) } } : {}),
  });
  const addr = await tracer.listen();
  process.stderr.write(`pgspec trace: listening on ${addr.host}:${addr.port}, forwarding to ${settings.upstreamHost}:${settings.upstreamPort}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => void tracer.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
