/**
 * Plays one conversation against a server and returns what it answered, normalized, per step.
 * The same function records (against PostgreSQL 15) and replays (against pgspec).
 */
import { Buffer } from 'node:buffer';
import { ClientAuthenticator } from '../../runtime/client/authenticate.js';
import type { FrontendMessage } from '../../generated/index.js';
import { backendToJson, protocolCode, toOutgoing, type Bindings, type Conversation, type JsonObject, type StartupSpec, type Step } from './corpus-format.js';
import { normalizeMessages } from './normalize.js';
import { WireClient, type Received } from './wire-client.js';

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

export interface ConversationResult {
  /** The main session's startup answer, when the conversation records it. */
  readonly startup?: JsonObject[];
  readonly steps: JsonObject[][];
}

/** How long a step waits for each next message. */
const READ_TIMEOUT_MS = 8000;
/** How long "quiet" waits for anything to arrive. */
const QUIET_MS = 300;
const DATABASE = 'postgres';

class Sessions {
  readonly clients = new Map<string, WireClient>();
  readonly keys = new Map<string, { processId: number; secretKey: Uint8Array }>();
  readonly pids = new Map<number, string>();

  constructor(
    private readonly conversation: Conversation,
    private readonly address: ServerAddress,
  ) {}

  spec(name: string): StartupSpec | 'none' {
    if (name === 'main') return this.conversation.startup;
    const s = this.conversation.sessions?.[name];
    if (s === undefined) throw new Error(`session "${name}" is not declared under sessions`);
    return s;
  }

  async get(name: string): Promise<{ client: WireClient; startup?: JsonObject[] }> {
    const existing = this.clients.get(name);
    if (existing) return { client: existing };
    const client = await WireClient.connect(this.address.host, this.address.port);
    this.clients.set(name, client);
    const spec = this.spec(name);
    if (spec === 'none') return { client };
    const received = await login(client, spec);
    this.observe(name, received);
    const last = received[received.length - 1];
    if (last?.type !== 'ReadyForQuery' && !spec.record) {
      throw new Error(`session "${name}" could not log in: ${JSON.stringify(received.map(backendToJson))}`);
    }
    return { client, startup: received.map(backendToJson) };
  }

  observe(name: string, received: readonly Received[]): void {
    for (const m of received) {
      if (m.type === 'BackendKeyData') {
        this.keys.set(name, { processId: m.processId, secretKey: Buffer.from(m.secretKey) });
        this.pids.set(m.processId, name);
      }
    }
  }

  closeAll(): void {
    for (const c of this.clients.values()) c.close();
  }
}

/** Startup with automatic answers to authentication requests, through ReadyForQuery, an error or close. */
async function login(client: WireClient, spec: StartupSpec): Promise<Received[]> {
  const out: Received[] = [];
  if (spec.tls) {
    client.send([{ type: 'SSLRequest' }]);
    const reply = await client.next(READ_TIMEOUT_MS);
    if (reply.type !== 'SSLAccepted') throw new Error(`TLS requested but the server answered ${reply.type}`);
  }
  const parameters = { user: spec.user, database: DATABASE, ...(spec.parameters ?? {}) };
  client.send([
    {
      type: 'StartupMessage',
      protocolVersion: protocolCode(spec.protocol),
      parameters: Object.entries(parameters).map(([name, value]) => ({ name, value })),
    },
  ]);
  const auth = new ClientAuthenticator({
    user: spec.user,
    password: spec.password,
    channelBinding: undefined,
    channelBindingMode: 'disable',
  });
  for (;;) {
    const m = await client.next(READ_TIMEOUT_MS);
    out.push(m);
    if (m.type === 'ReadyForQuery' || m.type === 'ErrorResponse' || m.type === 'Closed' || m.type === 'Timeout' || m.type === 'DecodeError') return out;
    if (m.type.startsWith('Authentication')) {
      let answer: FrontendMessage | undefined;
      try {
        answer = auth.respond(m as Parameters<ClientAuthenticator['respond']>[0]);
      } catch (err) {
        out.push({ type: 'DecodeError', message: `client refused: ${(err as Error).message}` });
        return out;
      }
      if (answer) client.send([answer]);
    }
  }
}

async function read(client: WireClient, step: Step): Promise<Received[]> {
  const out: Received[] = [];
  const until = step.until;
  if (until === 'none') return out;
  if (until === 'quiet') {
    for (;;) {
      const m = await client.next(QUIET_MS);
      if (m.type === 'Timeout') return out;
      out.push(m);
      if (m.type === 'Closed' || m.type === 'DecodeError') return out;
    }
  }
  const type = typeof until === 'string' ? until : until.type;
  let count = typeof until === 'string' ? 1 : until.count;
  for (;;) {
    const m = await client.next(READ_TIMEOUT_MS);
    if (m.type === 'Closed') {
      if (type !== 'close') out.push(m);
      return out;
    }
    out.push(m);
    if (m.type === 'Timeout' || m.type === 'DecodeError') return out;
    if (m.type === type && --count === 0) return out;
  }
}

export async function runConversation(conversation: Conversation, address: ServerAddress, resolved: Readonly<Record<string, number>>): Promise<ConversationResult> {
  const sessions = new Sessions(conversation, address);
  const bindings: Bindings = { keys: sessions.keys, resolved };
  try {
    const main = await sessions.get('main');
    const ctx = { pids: sessions.pids };
    const startupSpec = conversation.startup;
    const startup = startupSpec !== 'none' && startupSpec.record && main.startup ? normalizeMessages(main.startup, ctx) : undefined;
    const steps: JsonObject[][] = [];
    for (const step of conversation.steps) {
      const name = step.session ?? 'main';
      const { client } = await sessions.get(name);
      if (step.wait) await new Promise((r) => setTimeout(r, step.wait));
      const items = (step.send ?? []).map((j) => toOutgoing(j, bindings));
      if (items.length > 0) client.send(items.map((o) => (o.kind === 'raw' ? o.bytes : o.message)));
      const received = await read(client, step);
      sessions.observe(name, received);
      steps.push(received.map(backendToJson));
    }
    // Normalize once every session's process id is known (a notification may name a later one).
    return { startup, steps: steps.map((s) => normalizeMessages(s, ctx)) };
  } finally {
    sessions.closeAll();
  }
}
