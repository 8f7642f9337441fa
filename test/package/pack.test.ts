/**
 * The package as a user gets it: `npm run build`, `npm pack`, install the tarball into a scratch
 * project, then a strict NodeNext TypeScript file imports `pgspec/codecs` and `pgspec/wire`,
 * type-checks with the repository's tsc, and runs: a Query encodes and decodes back.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../generator/generate.js';

const run = promisify(execFile);
const TSC = join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TIMEOUT = 240_000;

interface Outcome {
  code: number;
  out: string;
}

async function sh(cmd: string, args: readonly string[], cwd: string, timeout = 180_000): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(cmd, [...args], { cwd, timeout, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

const work = mkdtempSync(join(tmpdir(), 'pgspec-pack-'));
const project = join(work, 'project');
let build: Outcome;
let packedFiles: string[] = [];
let install: Outcome | undefined;

beforeAll(async () => {
  build = await sh('npm', ['run', 'build'], PACKAGE_ROOT);
  // tsc emits even when it reports errors; packaging is still worth checking then.
  if (!existsSync(join(PACKAGE_ROOT, 'dist', 'generated', 'index.js'))) return;
  const pack = await sh('npm', ['pack', '--json', '--pack-destination', work], PACKAGE_ROOT);
  expect(pack.code, pack.out).toBe(0);
  const info = JSON.parse(pack.out.slice(pack.out.indexOf('['), pack.out.lastIndexOf(']') + 1)) as { filename: string; files: { path: string }[] }[];
  packedFiles = info[0]!.files.map((f) => f.path);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }, null, 2));
  install = await sh('npm', ['install', join(work, info[0]!.filename), '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--no-package-lock'], project);
}, TIMEOUT);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const MAIN = `
import { Buffer } from 'node:buffer';
import { encodeQuery, FRONTEND_TABLE, MESSAGES, type FrontendMessage, type Query } from 'pgspec/codecs';
import { StreamDecoder, Writer, ProtocolDecodeError } from 'pgspec/wire';
import { cloudberryExtendProtocol } from 'pgspec/extensions/cloudberry-extend-protocol';

const query: Query = { type: 'Query', query: 'SELECT 1 AS "één"' };
const w = new Writer();
encodeQuery(w, query);
const bytes = w.take();
const decoder = new StreamDecoder<FrontendMessage>(FRONTEND_TABLE);
decoder.push(bytes);
const back = decoder.next();
if (back === undefined || back.type !== 'Query') throw new Error('no Query decoded');
const text: string = back.query;
let refused = false;
try {
  decoder.push(Buffer.from([0x7a, 0, 0, 0, 4]));
  decoder.next();
} catch (err) {
  refused = err instanceof ProtocolDecodeError && err.code === 'unknown-type';
}
console.log(JSON.stringify({ hex: Buffer.from(bytes).toString('hex'), text, refused, queryByte: MESSAGES.Query?.typeByte, extension: cloudberryExtendProtocol.name }));
`;

describe('the npm package', () => {
  it(
    'builds without type errors',
    () => {
      expect(build.out).not.toMatch(/error TS\d+/);
      expect(build.code, build.out).toBe(0);
    },
    TIMEOUT,
  );

  it('packs the compiled code, declarations and the spec, and no tests, benchmarks or TypeScript sources', () => {
    expect(packedFiles).toContain('package.json');
    for (const f of ['dist/generated/index.js', 'dist/generated/index.d.ts', 'dist/runtime/wire/index.js', 'dist/runtime/wire/index.d.ts', 'dist/generated/extensions/cloudberry-extend-protocol/index.js', 'spec/protocol/frontend.yaml']) {
      expect(packedFiles, f).toContain(f);
    }
    expect(packedFiles.filter((f) => /^(test|bench)\//.test(f) || /^dist\/(test|bench)\//.test(f))).toEqual([]);
    expect(packedFiles.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { default: string; types: string } | string>; bin: Record<string, string> };
    for (const [sub, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string' || sub === './runtime') continue;
      expect(packedFiles, sub).toContain(target.default.replace(/^\.\//, ''));
      expect(packedFiles, sub).toContain(target.types.replace(/^\.\//, ''));
    }
    expect(pkg.bin.pgspec).toBe('./dist/cli/pgspec.js');
  });

  it(
    'installs, and a strict NodeNext program using pgspec/codecs and pgspec/wire type-checks and runs',
    async () => {
      expect(install?.code, install?.out).toBe(0);
      writeFileSync(join(project, 'main.ts'), MAIN);
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            outDir: 'out',
            types: ['node'],
            typeRoots: [join(PACKAGE_ROOT, 'node_modules', '@types')],
          },
          files: ['main.ts'],
        }),
      );
      const tsc = await sh(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
      expect(tsc.code, tsc.out).toBe(0);
      const result = await sh(process.execPath, ['out/main.js'], project);
      expect(result.code, result.out).toBe(0);
      const sql = Buffer.from('SELECT 1 AS "één"\0');
      const length = Buffer.alloc(4);
      length.writeInt32BE(sql.length + 4);
      expect(JSON.parse(result.out)).toEqual({
        hex: Buffer.concat([Buffer.from('Q'), length, sql]).toString('hex'),
        text: 'SELECT 1 AS "één"',
        refused: true,
        queryByte: 'Q',
        extension: 'cloudberry-extend-protocol',
      });
    },
    TIMEOUT,
  );

  it(
    'pgspec/runtime loads, when the runtime entry point exists',
    async () => {
      if (!existsSync(join(PACKAGE_ROOT, 'runtime', 'index.ts'))) return;
      const r = await sh(process.execPath, ['--input-type=module', '-e', "const m = await import('pgspec/runtime'); console.log(typeof m.PgServer)"], project);
      expect(r.code, r.out).toBe(0);
      expect(r.out.trim()).toBe('function');
    },
    TIMEOUT,
  );

  it(
    'the pgspec bin runs, and generates codecs from the packaged spec',
    async () => {
      const bin = join(project, 'node_modules', '.bin', 'pgspec');
      expect(existsSync(bin)).toBe(true);
      const help = await sh(bin, ['--help'], project);
      expect(help.code, help.out).toBe(0);
      expect(help.out).toMatch(/usage: pgspec/);
      const out = join(work, 'generated-by-bin');
      const gen = await sh(bin, ['generate', '--out', out], project);
      expect(gen.code, gen.out).toBe(0);
      expect(existsSync(join(out, 'index.ts'))).toBe(true);
      expect(readFileSync(join(out, 'tables.ts'), 'utf8')).toContain("from 'pgspec/wire'");
    },
    TIMEOUT,
  );
});
