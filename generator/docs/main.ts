/**
 * `npm run docs [-- --spec DIR ...] [--out DIR] [--no-api]`: builds the docs site (default
 * site/, Markdown in site/markdown/) from the spec. `pgspec docs` calls runDocs with its arguments.
 */
import { join, relative } from 'node:path';
import { PACKAGE_ROOT } from '../generate.js';
import { SpecError } from '../spec-error.js';
import { buildDocs } from './build.js';

export interface DocsCliResult {
  readonly exitCode: number;
  readonly output: string;
}

export async function runDocs(argv: readonly string[]): Promise<DocsCliResult> {
  const specs: string[] = [];
  let out: string | undefined;
  let api = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--spec') specs.push(argv[++i] ?? '');
    else if (a === '--out') out = argv[++i];
    else if (a === '--no-api') api = false;
    else if (a === '--help' || a === '-h') return { exitCode: 0, output: usage() };
    else return { exitCode: 2, output: `unknown argument ${a}\n${usage()}` };
  }
  if (specs.length === 0) specs.push(join(PACKAGE_ROOT, 'spec'));
  const outDir = out ?? join(PACKAGE_ROOT, 'site');
  try {
    const result = await buildDocs({ specs, out: outDir, api });
    const shown = relative(process.cwd(), outDir) || outDir;
    const lines = [`wrote ${result.files.length} files to ${shown}/ (open ${shown}/index.html; Markdown in ${shown}/markdown/)`];
    for (const w of result.warnings) lines.push(`warning: ${w}`);
    return { exitCode: 0, output: lines.join('\n') };
  } catch (err) {
    if (err instanceof SpecError) return { exitCode: 1, output: `spec is invalid:\n${err.message}` };
    if (err instanceof Error && /not empty and was not written by pgspec docs/.test(err.message)) return { exitCode: 1, output: err.message };
    throw err;
  }
}

function usage(): string {
  return [
    'usage: pgspec docs [--spec DIR]... [--out DIR] [--no-api]',
    '  --spec DIR   a spec directory or file (repeatable; extension specs add their own section)',
    '  --out DIR    where to write the site (default: site/); Markdown goes to DIR/markdown/',
    '  --no-api     skip the TypeDoc API reference (DIR/api/)',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const result = await runDocs(process.argv.slice(2));
  (result.exitCode === 0 ? console.log : console.error)(result.output);
  process.exitCode = result.exitCode;
}
