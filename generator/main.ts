/**
 * `npm run generate [-- --check] [--spec DIR ...] [--out DIR]`: writes generated/ from spec/, or
 * with --check fails and names the stale files when generated/ differs from what the spec gives.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { generate, PACKAGE_ROOT } from './generate.js';
import { SpecError } from './spec-error.js';

export interface CliResult {
  readonly exitCode: number;
  readonly output: string;
}

export function runGenerate(argv: readonly string[]): CliResult {
  const specs: string[] = [];
  let out: string | undefined;
  let check = false;
  let wireImport: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--check') check = true;
    else if (a === '--spec') specs.push(argv[++i] ?? '');
    else if (a === '--out') out = argv[++i];
    else if (a === '--wire-import') wireImport = argv[++i];
    else if (a === '--help' || a === '-h') return { exitCode: 0, output: usage() };
    else return { exitCode: 2, output: `unknown argument ${a}\n${usage()}` };
  }
  if (specs.length === 0) specs.push(join(PACKAGE_ROOT, 'spec'));
  const outDir = out ?? join(PACKAGE_ROOT, 'generated');
  let files: Map<string, string>;
  try {
    files = generate({ specs, out: outDir, wireImport }).files;
  } catch (err) {
    if (err instanceof SpecError) return { exitCode: 1, output: `spec is invalid:\n${err.message}` };
    throw err;
  }
  const existing = existsSync(outDir) ? listFiles(outDir) : [];
  if (check) {
    const stale: string[] = [];
    for (const [name, text] of files) {
      const p = join(outDir, name);
      if (!existsSync(p) || readFileSync(p, 'utf8') !== text) stale.push(name);
    }
    for (const name of existing) if (!files.has(name)) stale.push(`${name} (not generated from the spec any more)`);
    if (stale.length > 0) {
      return { exitCode: 1, output: `${relative(process.cwd(), outDir) || outDir} is stale; run npm run generate. Stale files:\n${stale.map((s) => `  ${s}`).join('\n')}` };
    }
    return { exitCode: 0, output: `${files.size} generated files are up to date` };
  }
  for (const name of existing) if (!files.has(name)) rmSync(join(outDir, name));
  for (const [name, text] of files) {
    const p = join(outDir, name);
    mkdirSync(dirname(p), { recursive: true });
    if (!existsSync(p) || readFileSync(p, 'utf8') !== text) writeFileSync(p, text);
  }
  return { exitCode: 0, output: `wrote ${files.size} files to ${relative(process.cwd(), outDir) || outDir}` };
}

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p, base));
    else out.push(relative(base, p).split('\\').join('/'));
  }
  return out;
}

function usage(): string {
  return [
    'usage: pgspec generate [--check] [--spec DIR]... [--out DIR] [--wire-import SPECIFIER]',
    '  --spec DIR     a spec directory or file (repeatable; the union is validated and generated)',
    '  --out DIR      where to write (default: generated/)',
    '  --check        write nothing; exit 1 naming the stale files if the output differs',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const result = runGenerate(process.argv.slice(2));
  (result.exitCode === 0 ? console.log : console.error)(result.output);
  process.exitCode = result.exitCode;
}
