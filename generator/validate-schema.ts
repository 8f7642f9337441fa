/** Validates each spec file against the spec language's JSON Schema with ajv. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import type { SpecFile } from './load.js';
import { PACKAGE_ROOT } from './package-root.js';
import { SpecError, type SpecProblem } from './spec-error.js';



let compiled: ReturnType<Ajv['compile']> | undefined;

function validator(): ReturnType<Ajv['compile']> {
  if (compiled === undefined) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    compiled = ajv.compile(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'spec', 'schema', 'spec.schema.json'), 'utf8')) as object);
  }
  return compiled;
}

export function validateAgainstSchema(files: readonly SpecFile[]): void {
  const validate = validator();
  const problems: SpecProblem[] = [];
  for (const f of files) {
    if (validate(f.data)) continue;
    for (const e of mostSpecific(validate.errors ?? [])) {
      problems.push({ file: f.file, path: e.instancePath, line: f.lineOf(e.instancePath), expected: describe(e) });
    }
  }
  if (problems.length > 0) throw new SpecError(problems);
}

/** ajv reports every failing branch; keep the deepest errors, one per path and keyword. */
function mostSpecific(errors: readonly ErrorObject[]): ErrorObject[] {
  const meaningful = errors.filter((e) => !['if', 'anyOf', 'oneOf', 'allOf', 'then', 'else', 'not'].includes(e.keyword));
  const pool = meaningful.length > 0 ? meaningful : [...errors];
  const deepest = Math.max(...pool.map((e) => e.instancePath.split('/').length));
  const seen = new Set<string>();
  const out: ErrorObject[] = [];
  for (const e of pool) {
    if (e.instancePath.split('/').length < deepest && pool.some((o) => o.instancePath.startsWith(e.instancePath + '/'))) continue;
    const key = `${e.instancePath} ${e.keyword} ${JSON.stringify(e.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `expected a "${String(p.missingProperty)}" entry (missing)`;
    case 'additionalProperties':
      return `unexpected key "${String(p.additionalProperty)}"; expected only the keys the spec language defines here`;
    case 'enum':
      return `expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `expected ${JSON.stringify(p.allowedValue)}`;
    case 'type':
      return `expected ${String(p.type)}`;
    case 'pattern':
      return `expected a value matching ${String(p.pattern)}`;
    default:
      return `expected: ${e.message ?? e.keyword}`;
  }
}
