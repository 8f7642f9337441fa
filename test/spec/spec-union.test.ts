/**
 * The README's "Extending the protocol" walkthroughs, done as a user would: the YAML blocks are
 * taken out of README.md (so the README cannot drift from this test) into a `my-spec/` directory
 * beside ours, `pgspec generate --spec spec --spec my-spec` writes the union, the extension
 * bundle type-checks and imports, a PgServer registers it, and clients that ask for the option
 * get `ServerRole` while their `RoutingHint` reaches the engine. Also: a user spec that clashes
 * with ours (or with another user spec) is refused naming both files, and `pgspec docs` documents
 * the union with the user's messages in the extensions section.
 */
import { Buffer } from 'node:buffer';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { encodeFrontend, type FrontendMessage } from '../../generated/index.js';
import { PACKAGE_ROOT } from '../../generator/generate.js';
import { ClientProtocolError, PgClientConnection } from '../../runtime/client/index.js';
import type { BackendSink, Engine, EngineSession, SessionEvents, SessionStart } from '../../runtime/engine.js';
import { TrivialEngine } from '../../runtime/engines/trivial/trivial-engine.js';
import { readErrorFields } from '../../runtime/protocol/error-fields.js';
import { ProtocolCodecs, type AnyMessage, type ProtocolExtension } from '../../runtime/protocol/extension.js';
import { postgresProtocol } from '../../runtime/server/postgres-protocol.js';
import { PgServer } from '../../runtime/server/server.js';
import { StreamDecoder, ValueList, Writer } from '../../runtime/wire/index.js';
import { RawClient } from '../runtime/support/raw-client.js';

const run = promisify(execFile);
const README = join(PACKAGE_ROOT, 'README.md');
/**
 * The generated code imports the wire library this test runs, from source, rather than the
 * built `pgspec/wire` a user's package would resolve.
 */
const WIRE = join(PACKAGE_ROOT, 'runtime', 'wire', 'index.js');

/** `pgspec <args>` as the CLI runs it; resolves with the exit code and what it printed. */
async function pgspec(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'cli', 'pgspec.ts'), ...args], { cwd: PACKAGE_ROOT, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

// ---- the walkthroughs, out of the README ----------------------------------------------------------

/** The text of a README section, from its heading to the next heading of the same or a higher level. */
function section(text: string, heading: string): string {
  const level = /^#+/.exec(heading)![0].length;
  const start = text.indexOf(`\n${heading}\n`);
  expect(start, `README has "${heading}"`).toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`^#{1,${level}} `, 'm'));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The ```yaml blocks of a section, unindented (they sit inside numbered steps). */
function yamlBlocks(text: string): Record<string, unknown>[] {
  return [...text.matchAll(/^( *)```yaml\n([\s\S]*?)^\1```/gm)].map(([, indent, body]) =>
    YAML.parse(body!.split('\n').map((line) => line.slice(indent!.length)).join('\n')) as Record<string, unknown>,
  );
}

interface ExtensionSpec {
  extension: { name: string; title: string; option: string; doc: string };
  messages: { name: string; direction: 'frontend' | 'backend'; typeByte: string; doc: string; fields: { name: string }[] }[];
  stateRules: { states: string[]; send?: { messages: string[] }[]; recv?: { messages: string[] }[] }[];
}

const readme = readFileSync(README, 'utf8');
const extending = section(readme, '## Extending the protocol');
const walkthrough1 = section(extending, '### Walkthrough 1: a custom backend message');
const walkthrough2 = section(extending, '### Walkthrough 2: a custom frontend message');

/** Walkthrough 1's extension file, with walkthrough 2's message and rule added to its lists, as step 1 of walkthrough 2 says. */
function userSpec(): ExtensionSpec {
  const [first] = yamlBlocks(walkthrough1) as unknown as ExtensionSpec[];
  const [second] = yamlBlocks(walkthrough2) as unknown as Partial<ExtensionSpec>[];
  expect(first?.extension, 'walkthrough 1 has an extension file').toBeDefined();
  expect(second?.messages, 'walkthrough 2 has a message to add').toBeDefined();
  return { ...first!, messages: [...first!.messages, ...second!.messages!], stateRules: [...first!.stateRules, ...(second!.stateRules ?? [])] };
}

const spec = userSpec();
const backendMessage = spec.messages.find((m) => m.direction === 'backend')!;
const frontendMessage = spec.messages.find((m) => m.direction === 'frontend')!;
/** A ServerRole and a RoutingHint, with the fields the YAML gives them. */
const role = (value: string): AnyMessage => ({ type: backendMessage.name, [backendMessage.fields[0]!.name]: value });
const hint = (value: string): AnyMessage => ({ type: frontendMessage.name, [frontendMessage.fields[0]!.name]: value });

let tmp: string;
let out: string;
let site: string;
let generated: { code: number; output: string };
let docs: { code: number; output: string };
/** The generated extension bundle's module. */
let bundle: Record<string, unknown>;
let extension: ProtocolExtension;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'pgspec-union-'));
  const mySpec = join(tmp, 'my-spec');
  mkdirSync(mySpec);
  writeFileSync(join(mySpec, `${spec.extension.name}.yaml`), YAML.stringify(spec));
  out = join(tmp, 'generated');
  site = join(tmp, 'site');
  [generated, docs] = await Promise.all([
    pgspec('generate', '--spec', 'spec', '--spec', mySpec, '--out', out, '--wire-import', WIRE),
    pgspec('docs', '--spec', 'spec', '--spec', mySpec, '--out', site, '--no-api'),
  ]);
  expect(generated.code, generated.output).toBe(0);
  bundle = (await import(pathToFileURL(join(out, 'extensions', spec.extension.name, 'index.ts')).href)) as Record<string, unknown>;
  extension = Object.values(bundle).find((v): v is ProtocolExtension => typeof v === 'object' && v !== null && (v as ProtocolExtension).name === spec.extension.name)!;
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('pgspec generate --spec spec --spec my-spec', () => {
  it('writes an extension bundle with what walkthrough 1 step 2 names', () => {
    const dir = join(out, 'extensions', spec.extension.name);
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'catalog.ts', 'decoders.ts', 'encoders.ts', 'enums.ts', 'index.ts', 'messages.ts']);
    const step2 = /^2\. `npx pgspec generate[\s\S]*?(?=^\d\. )/m.exec(walkthrough1)![0];
    const named = [...step2.matchAll(/`([A-Za-z]\w*)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThanOrEqual(4);
    const interfaces = readFileSync(join(dir, 'messages.ts'), 'utf8');
    for (const name of named) {
      expect(name in bundle || interfaces.includes(`export interface ${name} `), `the bundle has ${name}`).toBe(true);
    }
    for (const m of spec.messages) {
      expect(typeof bundle[`encode${m.name}`], `encode${m.name}`).toBe('function');
      expect(typeof bundle[`decode${m.name}Body`], `decode${m.name}Body`).toBe('function');
      expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(m.name);
    }
  });

  it('holds the extension: its option, type bytes and state rules as the YAML gives them', () => {
    expect(extension.option).toBe(spec.extension.option);
    expect(extension.title).toBe(spec.extension.title);
    const bytes = (typed: ProtocolExtension['frontendTyped']) => typed.map((t) => [String.fromCharCode(t.byte), t.entry.name]);
    expect(bytes(extension.backendTyped)).toEqual([[backendMessage.typeByte, backendMessage.name]]);
    expect(bytes(extension.frontendTyped)).toEqual([[frontendMessage.typeByte, frontendMessage.name]]);
    const expected = spec.stateRules.flatMap((r) =>
      (['send', 'recv'] as const).flatMap((direction) => (r[direction] ?? []).flatMap((g) => g.messages.flatMap((message) => r.states.map((state) => `${state} ${direction} ${message}`)))),
    );
    expect(extension.stateRules.map((r) => `${r.state} ${r.direction} ${r.message}`).sort()).toEqual(expected.sort());
  });

  it('type-checks under the repository settings', async () => {
    const tsconfig = join(tmp, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: join(PACKAGE_ROOT, 'tsconfig.json'),
        compilerOptions: { noEmit: true, typeRoots: [join(PACKAGE_ROOT, 'node_modules', '@types')] },
        include: [],
        files: [join(out, 'extensions', spec.extension.name, 'index.ts')],
      }),
    );
    const tsc = join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(run(process.execPath, [tsc, '-p', tsconfig], { timeout: 60_000 })).resolves.toBeDefined();
  }, 60_000);
});

describe('pgspec docs --spec spec --spec my-spec', () => {
  it("puts the user's messages in the extensions section", () => {
    expect(docs.code, docs.output).toBe(0);
    const read = (rel: string): string => readFileSync(join(site, rel), 'utf8');
    expect(read('extensions/index.html')).toContain(spec.extension.title.replace(/'/g, '&#x27;'));
    const index = read(`extensions/${spec.extension.name}/index.html`);
    for (const m of spec.messages) {
      expect(index).toContain(`${m.name}.html`);
      expect(read(`extensions/${spec.extension.name}/${m.name}.html`)).toContain('class="badge extension"');
      expect(read(`markdown/extensions/${spec.extension.name}/${m.name}.md`)).toContain(m.doc);
    }
  });
});

describe('a spec that clashes with ours or another', () => {
  function writeSpec(name: string, messages: object[]): string {
    const dir = join(tmp, name);
    mkdirSync(dir);
    const file = join(dir, `${name}.yaml`);
    const text = YAML.stringify({ extension: { name, title: name, option: `_pq_.${name}`, doc: `The ${name} extension.` }, messages });
    writeFileSync(file, text);
    return file;
  }
  const message = (name: string, direction: string, typeByte: string): object => ({ name, direction, typeByte, since: '3.0', limit: `${direction}Small`, doc: `${name}.`, fields: [] });
  /** "file:line" of the first line of `file` holding `text`, as the error shows it. */
  const at = (file: string, text: string): string => `${relative(PACKAGE_ROOT, file)}:${readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1}`;

  it("a type byte or a name of ours: refused, naming both files and what clashes", async () => {
    const file = writeSpec('clash-ours', [message('MyReady', 'backend', 'Z'), message('Bind', 'frontend', 'j')]);
    const r = await pgspec('generate', '--spec', 'spec', '--spec', join(tmp, 'clash-ours'), '--out', join(tmp, 'not-written'));
    expect(r.code).toBe(1);
    const lines = r.output.split('\n');
    const byte = lines.find((l) => l.startsWith(at(file, "typeByte: Z")));
    expect(byte, r.output).toBeDefined();
    expect(byte).toContain('Z is also ReadyForQuery (spec/protocol/backend.yaml)');
    const name = lines.find((l) => l.startsWith(at(file, 'name: Bind')));
    expect(name, r.output).toBeDefined();
    expect(name).toContain('"Bind" is also defined in spec/protocol/frontend.yaml');
    expect(readdirSync(tmp)).not.toContain('not-written');
  });

  it("a type byte of another user's spec: refused, naming both", async () => {
    const file = writeSpec('clash-theirs', [message('OtherRole', 'backend', backendMessage.typeByte)]);
    const r = await pgspec('generate', '--spec', 'spec', '--spec', join(tmp, 'my-spec'), '--spec', join(tmp, 'clash-theirs'), '--out', join(tmp, 'not-written'));
    expect(r.code).toBe(1);
    const line = r.output.split('\n').find((l) => l.startsWith(at(file, `typeByte: ${backendMessage.typeByte}`)));
    expect(line, r.output).toBeDefined();
    expect(line).toContain(`${backendMessage.typeByte} is also ${backendMessage.name} (${relative(PACKAGE_ROOT, join(tmp, 'my-spec', `${spec.extension.name}.yaml`))})`);
  });
});

// ---- a server and clients, as walkthrough steps 3 and 4 say ---------------------------------------

/**
 * The engine of walkthrough 1 step 3 and walkthrough 2 step 3: SELECT n from the trivial engine,
 * ServerRole before each answer in sessions whose options ask for it, RoutingHints recorded.
 */
class RoleEngine implements Engine {
  readonly name = 'role';
  readonly hints: { processId: number; target: string }[] = [];
  readonly rolesSent: number[] = [];
  private readonly inner = new TrivialEngine();

  async openSession(start: SessionStart, events: SessionEvents): Promise<EngineSession> {
    const inner = await this.inner.openSession(start, events);
    const wantsRole = start.options?.[spec.extension.option] !== undefined;
    return {
      parameterStatus: inner.parameterStatus,
      execute: async (messages: readonly FrontendMessage[], out: BackendSink) => {
        for (const m of messages as readonly AnyMessage[]) {
          if (m.type === frontendMessage.name) {
            this.hints.push({ processId: start.processId, target: String((m as unknown as Record<string, unknown>)[frontendMessage.fields[0]!.name]) });
            continue;
          }
          if (wantsRole && (m.type === 'Query' || m.type === 'Sync')) {
            out.send(role('primary'));
            this.rolesSent.push(start.processId);
          }
          await inner.execute([m as FrontendMessage], out);
        }
      },
      cancel: () => inner.cancel(),
      close: () => inner.close(),
    };
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

/** A client of one's own on the codecs: encodes with the extension's encoders, decodes with its table. */
class CodecClient {
  private readonly decoder: StreamDecoder<AnyMessage>;
  private readonly received: AnyMessage[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly codecs: ProtocolCodecs,
  ) {
    this.decoder = new StreamDecoder<AnyMessage>(codecs.backendTable, { context: { protocolVersion: 196608 } });
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (let m; (m = this.decoder.next()) !== undefined; ) this.received.push(m);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async connect(port: number, options: Record<string, string>): Promise<CodecClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new CodecClient(socket, new ProtocolCodecs([extension]));
    const parameters = Object.entries({ user: 'alice', database: 'alice', ...options }).map(([name, value]) => ({ name, value }));
    c.send({ type: 'StartupMessage', protocolVersion: 196608, parameters });
    await c.until('ReadyForQuery');
    return c;
  }

  send(...messages: (FrontendMessage | AnyMessage)[]): void {
    const w = new Writer();
    for (const m of messages) this.codecs.encodeFrontend(w, m);
    this.socket.write(w.take());
  }

  /** Messages up to and including the first of `type`. */
  async until(type: string): Promise<AnyMessage[]> {
    for (;;) {
      const at = this.received.findIndex((m) => m.type === type);
      if (at >= 0) return this.received.splice(0, at + 1);
      if (this.closed) throw new Error(`closed before ${type}: ${this.received.map((m) => m.type).join(' ')}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('a server with the extension, and its clients', () => {
  let server: PgServer;
  let engine: RoleEngine;
  let port: number;
  let plainPort: number;

  beforeAll(async () => {
    engine = new RoleEngine();
    // Walkthrough 1 step 3, plus a listener for plain PostgreSQL without the extension.
    server = new PgServer({
      engine,
      protocols: [postgresProtocol({ extensions: [extension] }), postgresProtocol({ name: 'plain' })],
      listeners: [
        { host: '127.0.0.1', port: 0 },
        { protocol: 'plain', host: '127.0.0.1', port: 0 },
      ],
    });
    const [withExtension, plain] = await server.listen();
    port = withExtension!.port!;
    plainPort = plain!.port!;
  });

  afterAll(async () => {
    await server?.close();
  });

  it('a client that asks for the option gets ServerRole, and its RoutingHints reach the engine', async () => {
    const c = await CodecClient.connect(port, { [spec.extension.option]: 'on' });
    try {
      c.send(hint('any'), { type: 'Query', query: 'select 1' });
      const simple = await c.until('ReadyForQuery');
      expect(simple.map((m) => m.type)).toEqual([backendMessage.name, 'RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
      expect(simple[0]).toEqual(role('primary'));
      // In the extended protocol too, a hint between Parse and Bind (state Extended).
      c.send({ type: 'Parse', statement: '', query: 'select 2', parameterTypes: [] }, hint('primary'), { type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] });
      c.send({ type: 'Execute', portal: '', maxRows: 0 }, { type: 'Sync' });
      const extended = await c.until('ReadyForQuery');
      expect(extended.map((m) => m.type)).toEqual(['ParseComplete', 'BindComplete', 'DataRow', 'CommandComplete', backendMessage.name, 'ReadyForQuery']);
      expect(engine.hints.map((h) => h.target)).toEqual(['any', 'primary']);
      expect(new Set(engine.hints.map((h) => h.processId)).size).toBe(1);
    } finally {
      c.close();
    }
  });

  it('a RoutingHint after a failed extended-query message is skipped with the rest until Sync', async () => {
    const c = await CodecClient.connect(port, { [spec.extension.option]: 'on' });
    try {
      const hints = engine.hints.length;
      c.send({ type: 'Bind', portal: '', statement: 'nope', parameterFormats: [], parameters: ValueList.from([]), resultFormats: [] }, { type: 'Flush' });
      expect((await c.until('ErrorResponse')).map((m) => m.type)).toEqual(['ErrorResponse']);
      c.send(hint('any'), { type: 'Sync' });
      expect((await c.until('ReadyForQuery')).map((m) => m.type)).toEqual([backendMessage.name, 'ReadyForQuery']);
      expect(engine.hints.length).toBe(hints);
      c.send({ type: 'Query', query: 'select 4' });
      expect((await c.until('ReadyForQuery')).map((m) => m.type)).toContain('DataRow');
    } finally {
      c.close();
    }
  });

  it('PgClientConnection with the extension is granted the option, hands over ServerRole and sends RoutingHint', async () => {
    const c = await PgClientConnection.connect({ host: '127.0.0.1', port, user: 'bob', tls: 'disable', extensions: [extension] });
    try {
      expect(c.unrecognizedOptions).toEqual([]);
      const received: AnyMessage[] = [];
      c.on('extensionMessage', (m) => received.push(m));
      const before = engine.rolesSent.length;
      const [result] = await c.query('select 7');
      expect(result!.rows).toEqual([['7']]);
      expect(engine.rolesSent.length).toBe(before + 1);
      expect(received).toEqual([role('primary')]);
      const hints = engine.hints.length;
      await c.sendExtension([hint('any')]);
      await c.query('select 8');
      expect(engine.hints.slice(hints).map((h) => h.target)).toEqual(['any']);
    } finally {
      await c.close();
    }
  });

  it('...which it needs the extension for: without it the unknown type byte fails the connection', async () => {
    const c = await PgClientConnection.connect({ host: '127.0.0.1', port, user: 'bob', tls: 'disable', options: { [spec.extension.option]: 'on' } });
    try {
      await expect(c.query('select 7')).rejects.toBeInstanceOf(ClientProtocolError);
    } finally {
      await c.close();
    }
  });

  it('a client that does not ask for the option gets no ServerRole', async () => {
    const c = await CodecClient.connect(port, {});
    try {
      c.send({ type: 'Query', query: 'select 3' });
      expect((await c.until('ReadyForQuery')).map((m) => m.type)).toEqual(['RowDescription', 'DataRow', 'CommandComplete', 'ReadyForQuery']);
    } finally {
      c.close();
    }
  });

  it('on a protocol without the extension, a RoutingHint is the usual FATAL 08P01', async () => {
    const c = await RawClient.connect(plainPort);
    try {
      await c.login('carol', { parameters: [{ name: 'database', value: 'carol' }] });
      const w = new Writer();
      (bundle[`encode${frontendMessage.name}`] as (w: Writer, m: AnyMessage) => void)(w, hint('any'));
      encodeFrontend(w, { type: 'Query', query: 'select 1' });
      c.write(w.take());
      const got = await c.drainToClose();
      const errors = got.filter((m) => m.type === 'ErrorResponse').map((m) => readErrorFields(m as Parameters<typeof readErrorFields>[0]));
      expect(errors.map((e) => `${e.severity} ${e.code}`)).toEqual(['FATAL 08P01']);
      expect(errors[0]!.message).toContain(String(frontendMessage.typeByte.charCodeAt(0)));
      expect(got.map((m) => m.type)).not.toContain('DataRow');
    } finally {
      c.close();
    }
  });
});
