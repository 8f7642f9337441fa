/**
 * A broken spec is refused with an error a person can act on: the file, the path inside it, the
 * line, and what was expected. Each test copies spec/ to a temporary directory and makes one
 * kind of mistake. Also: --check names stale files, output is deterministic, generated/ is current.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, loadModel, PACKAGE_ROOT } from '../../generator/generate.js';
import { runGenerate } from '../../generator/main.js';
import { SpecError, type SpecProblem } from '../../generator/spec-error.js';

const SPEC = join(PACKAGE_ROOT, 'spec');
const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

/** A copy of spec/ to break. */
function specCopy(): string {
  const dir = join(tempDir('pgspec-spec-'), 'spec');
  cpSync(SPEC, dir, { recursive: true });
  return dir;
}

/**
 * Replaces the first `from` after `anchor` in a spec file; returns the 1-based line where the
 * replacement starts, so a test can check the error points there.
 */
function edit(dir: string, file: string, anchor: string, from: string, to: string): number {
  const p = join(dir, file);
  const text = readFileSync(p, 'utf8');
  const a = text.indexOf(anchor);
  expect(a, `anchor ${anchor} in ${file}`).toBeGreaterThanOrEqual(0);
  const at = text.indexOf(from, a);
  expect(at, `${from} after ${anchor} in ${file}`).toBeGreaterThanOrEqual(0);
  writeFileSync(p, text.slice(0, at) + to + text.slice(at + from.length));
  return text.slice(0, at).split('\n').length;
}

function append(dir: string, file: string, text: string): number {
  const p = join(dir, file);
  const before = readFileSync(p, 'utf8');
  writeFileSync(p, before + text);
  return before.split('\n').length;
}

/** The problems loading the spec reports; fails if it loads. */
function problems(dir: string): readonly SpecProblem[] {
  try {
    loadModel([dir]);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    const e = err as SpecError;
    expect(e.problems.length).toBeGreaterThan(0);
    return e.problems;
  }
  throw new Error('the broken spec loaded without error');
}

/** The first problem about `file`; also checks the message a person sees carries file, line and path. */
function problemIn(dir: string, file: string): SpecProblem {
  const all = problems(dir);
  const mine = all.filter((p) => p.file.split('\\').join('/').endsWith(`spec/${file}`));
  expect(mine.length, JSON.stringify(all, null, 2)).toBeGreaterThanOrEqual(1);
  const p = mine[0]!;
  expect(p.line).toBeTypeOf('number');
  const shown = new SpecError([p]).message;
  expect(shown).toContain(`${p.file}:${p.line} ${p.path || '/'}`);
  return p;
}

describe('mistakes in the spec', () => {
  it('a wrong type name', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/frontend.yaml', '- name: Query', 'type: cstring', 'type: cstrng');
    const p = problemIn(dir, 'protocol/frontend.yaml');
    expect(p.path).toMatch(/^\/messages\/\d+\/fields\/0\/type$/);
    expect(p.line).toBe(line);
    expect(p.expected).toContain('cstring');
    expect(p.expected).toContain('cstrng');
  });

  it('a field without doc', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/frontend.yaml', '- name: Query', ', doc: "The query string."', '');
    const p = problemIn(dir, 'protocol/frontend.yaml');
    expect(p.path).toMatch(/^\/messages\/\d+\/fields\/0$/);
    expect(p.line).toBe(line);
    expect(p.expected).toContain('"doc"');
  });

  it('a field without type', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/frontend.yaml', '- name: Query', 'type: cstring, ', '');
    const all = problems(dir);
    const p = all.find((x) => x.expected.includes('"type"'));
    expect(p, JSON.stringify(all, null, 2)).toBeDefined();
    expect(p!.file).toMatch(/spec\/protocol\/frontend\.yaml$/);
    expect(p!.path).toMatch(/^\/messages\/\d+\/fields\/0$/);
    expect(p!.line).toBe(line);
  });

  it('a transition to a state that does not exist', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/states.yaml', '- name: Startup', 'to: SslNegotiation', 'to: SslNegotiate');
    const p = problemIn(dir, 'protocol/states.yaml');
    expect(p.path).toBe('/stateMachine/states/0/recv/0/to');
    expect(p.line).toBe(line);
    expect(p.expected).toContain('SslNegotiate');
    expect(p.expected).toContain('SslNegotiation'); // lists the states that do exist
  });

  it('two messages with the same direction and type byte, in two files', () => {
    const dir = specCopy();
    const line = append(
      dir,
      'protocol/shared.yaml',
      `
  - name: QueryAgain
    direction: frontend
    typeByte: Q
    since: '3.0'
    limit: frontendLarge
    doc: A second frontend message on 'Q'.
    fields: []
`,
    );
    const p = problemIn(dir, 'protocol/shared.yaml');
    expect(p.path).toMatch(/^\/messages\/\d+\/typeByte$/);
    expect(p.line).toBeGreaterThan(line);
    expect(p.expected).toContain('Query');
    expect(p.expected).toContain('frontend.yaml'); // names the other file too
  });

  it('an unknown enum reference', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/frontend.yaml', '- name: Close', 'enum: TargetKind', 'enum: TargetKnd');
    const p = problemIn(dir, 'protocol/frontend.yaml');
    expect(p.path).toMatch(/^\/messages\/\d+\/fields\/0\/enum$/);
    expect(p.line).toBe(line);
    expect(p.expected).toContain('TargetKnd');
    expect(p.expected).toContain('TargetKind');
  });

  it('an unknown limit name', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/frontend.yaml', '- name: Close', 'limit: frontendSmall', 'limit: frontendTiny');
    const p = problemIn(dir, 'protocol/frontend.yaml');
    expect(p.path).toMatch(/^\/messages\/\d+\/limit$/);
    expect(p.line).toBe(line);
    expect(p.expected).toContain('frontendTiny');
    expect(p.expected).toContain('frontendSmall');
  });

  it('a YAML syntax error', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/backend.yaml', '- name: NoData', "typeByte: 'n'", "typeByte: 'n\n    oops: [unclosed");
    const p = problemIn(dir, 'protocol/backend.yaml');
    expect(p.expected).toMatch(/YAML/);
    expect(p.line).toBeGreaterThanOrEqual(line);
    expect(p.line).toBeLessThanOrEqual(line + 3);
  });

  it('an unknown key', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/frontend.yaml', '- name: Sync', 'since:', "colour: red\n    since:");
    const p = problemIn(dir, 'protocol/frontend.yaml');
    expect(p.path).toMatch(/^\/messages\/\d+$/);
    expect(p.expected).toContain('"colour"');
    // The message's line or the key's own line; either points the reader at it.
    expect(p.line).toBeGreaterThanOrEqual(line - 6);
    expect(p.line).toBeLessThanOrEqual(line);
  });

  it('a reply answering a non-message', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/startup.yaml', '- name: SSLAccepted', 'answers: SSLRequest', 'answers: TLSRequest');
    const p = problemIn(dir, 'protocol/startup.yaml');
    expect(p.path).toBe('/replies/0/answers');
    expect(p.line).toBe(line);
    expect(p.expected).toContain('TLSRequest');
  });

  it('a state rule naming an unknown message (base state machine)', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/states.yaml', '- name: Startup', 'messages: [CancelRequest]', 'messages: [CancelRequests]');
    const p = problemIn(dir, 'protocol/states.yaml');
    expect(p.path).toBe('/stateMachine/states/0/recv/2/messages/0');
    expect(p.line).toBe(line);
    expect(p.expected).toContain('CancelRequests');
  });

  it("a state rule naming an unknown message (an extension's stateRules)", () => {
    const dir = specCopy();
    const line = edit(dir, 'extensions/cloudberry-extend-protocol.yaml', 'stateRules:', 'messages: [ExtendProtocol]', 'messages: [ExtendedProtocol]');
    const p = problemIn(dir, 'extensions/cloudberry-extend-protocol.yaml');
    expect(p.path).toBe('/stateRules/0/send/0/messages/0');
    expect(p.line).toBe(line);
    expect(p.expected).toContain('ExtendedProtocol');
  });

  it('an extension state rule naming an unknown state', () => {
    const dir = specCopy();
    const line = edit(dir, 'extensions/cloudberry-extend-protocol.yaml', 'stateRules:', 'SyncPending', 'SyncWaiting');
    const p = problemIn(dir, 'extensions/cloudberry-extend-protocol.yaml');
    expect(p.path).toBe('/stateRules/0/states/2');
    expect(p.line).toBe(line);
  });

  it('npm run generate reports the same problems and exits 1', () => {
    const dir = specCopy();
    const line = edit(dir, 'protocol/frontend.yaml', '- name: Query', 'type: cstring', 'type: cstrng');
    const out = tempDir('pgspec-out-');
    const result = runGenerate(['--spec', dir, '--out', out]);
    expect(result.exitCode).toBe(1);
    expect(result.output).toMatch(new RegExp(`spec/protocol/frontend\\.yaml:${line} /messages/\\d+/fields/0/type: .*cstring`));
    expect(readdirSync(out)).toEqual([]); // nothing written
  });
});

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? listFiles(p, base) : [relative(base, p).split('\\').join('/')];
    });
}

describe('the generator', () => {
  it('--check exits 1 and names a modified, a missing and an extra file', () => {
    const out = join(tempDir('pgspec-gen-'), 'generated');
    expect(runGenerate(['--out', out]).exitCode).toBe(0);
    expect(runGenerate(['--check', '--out', out])).toMatchObject({ exitCode: 0 });

    writeFileSync(join(out, 'tables.ts'), `${readFileSync(join(out, 'tables.ts'), 'utf8')}\n// edited by hand\n`);
    let r = runGenerate(['--check', '--out', out]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toMatch(/stale/);
    expect(r.output).toContain('tables.ts');
    expect(r.output).not.toContain('encoders.ts');

    unlinkSync(join(out, 'extensions/cloudberry-extend-protocol/decoders.ts'));
    writeFileSync(join(out, 'leftover.ts'), 'export {};\n');
    r = runGenerate(['--check', '--out', out]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain('extensions/cloudberry-extend-protocol/decoders.ts');
    expect(r.output).toMatch(/leftover\.ts.*not generated/);

    // --check wrote nothing; a plain run repairs everything.
    expect(existsSync(join(out, 'extensions/cloudberry-extend-protocol/decoders.ts'))).toBe(false);
    expect(runGenerate(['--out', out]).exitCode).toBe(0);
    expect(runGenerate(['--check', '--out', out]).exitCode).toBe(0);
    expect(existsSync(join(out, 'leftover.ts'))).toBe(false);
  });

  it('is deterministic: two runs give byte-identical files', () => {
    const a = join(tempDir('pgspec-gen-a-'), 'out');
    const b = join(tempDir('pgspec-gen-b-'), 'out');
    expect(runGenerate(['--out', a]).exitCode).toBe(0);
    expect(runGenerate(['--out', b]).exitCode).toBe(0);
    const files = listFiles(a);
    expect(listFiles(b)).toEqual(files);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(readFileSync(join(b, f), 'utf8'), f).toBe(readFileSync(join(a, f), 'utf8'));

    const first = generate({ specs: [SPEC], out: join(PACKAGE_ROOT, 'generated') }).files;
    const second = generate({ specs: [SPEC], out: join(PACKAGE_ROOT, 'generated') }).files;
    expect([...second]).toEqual([...first]);
  });

  it('the committed generated/ is what the spec gives', () => {
    const r = runGenerate(['--check']);
    expect(r.output).toMatch(/up to date/);
    expect(r.exitCode).toBe(0);
  });
});
