/** A mistake in a spec file: names the file, the place inside it, and what was expected. */
export interface SpecProblem {
  /** The spec file, relative to the working directory. */
  readonly file: string;
  /** JSON-pointer-style path inside the file, e.g. /messages/3/fields/1/type. */
  readonly path: string;
  /** 1-based line in the file, when known. */
  readonly line?: number;
  /** What was expected there (and what was found). */
  readonly expected: string;
}

export class SpecError extends Error {
  constructor(readonly problems: readonly SpecProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'SpecError';
  }
}

export function formatProblem(p: SpecProblem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}` : ''} ${p.path || '/'}: ${p.expected}`;
}
