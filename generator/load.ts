/** Finds and parses the YAML files of one or more spec directories, keeping positions for errors. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { SpecError, type SpecProblem } from './spec-error.js';

export interface SpecFile {
  /** Path relative to the working directory, as shown in errors. */
  readonly file: string;
  readonly data: Record<string, unknown>;
  /** Line of a JSON-pointer path inside this file, when it can be found. */
  lineOf(path: string): number | undefined;
}

/** Every *.yaml / *.yml below the given directories (or the given files), sorted for determinism. */
export function findSpecFiles(roots: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name === 'schema' || name.startsWith('.')) continue;
        walk(join(p, name));
      }
    } else if (/\.ya?ml$/.test(p)) {
      out.push(p);
    }
  };
  for (const root of roots) walk(root);
  return out;
}

export function loadSpecFiles(paths: readonly string[], cwd = process.cwd()): SpecFile[] {
  const problems: SpecProblem[] = [];
  const files: SpecFile[] = [];
  for (const p of paths) {
    const file = relative(cwd, p) || p;
    const text = readFileSync(p, 'utf8');
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      problems.push({ file, path: '', line: lineCounter.linePos(e.pos[0]).line, expected: `valid YAML (${e.message.split('\n')[0]})` });
      continue;
    }
    const data = doc.toJS() as unknown;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      problems.push({ file, path: '', line: 1, expected: 'a mapping of spec sections (messages, enums, stateMachine, ...)' });
      continue;
    }
    files.push({ file, data: data as Record<string, unknown>, lineOf: (path) => lineOf(doc, lineCounter, path) });
  }
  if (problems.length > 0) throw new SpecError(problems);
  return files;
}

function lineOf(doc: Document, lc: LineCounter, path: string): number | undefined {
  const keys = path
    .split('/')
    .filter((k) => k !== '')
    .map((k) => (/^\d+$/.test(k) ? Number(k) : k.replace(/~1/g, '/').replace(/~0/g, '~')));
  // Walk up until a node with a position is found.
  for (let n = keys.length; n >= 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}
