/**
 * The little SQL the engine itself must understand, whatever the handler's dialect: where one
 * statement ends in a query string, which $n placeholders a statement uses, and which statements
 * are transaction control or COPY. Quotes, dollar quotes and comments are skipped throughout.
 */

/**
 * Calls `visit` for each character offset outside string literals, quoted identifiers and
 * comments, and `skipped` for each of those regions.
 */
function scan(sql: string, visit: (i: number) => void, skipped?: (start: number, end: number, comment: boolean) => void): void {
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    const start = i;
    if (c === "'" || c === '"') {
      // E'...' strings take backslash escapes; standard strings only doubled quotes.
      const escapes = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !/\w/.test(sql[i - 2]!));
      i++;
      while (i < n) {
        if (escapes && sql[i] === '\\') i += 2;
        else if (sql[i] === c) {
          if (sql[i + 1] === c) i += 2;
          else break;
        } else i++;
      }
      i++;
      skipped?.(start, Math.min(i, n), false);
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
      skipped?.(start, i, true);
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      skipped?.(start, Math.min(i, n), true);
      continue;
    }
    if (c === '$' && (i === 0 || !/[\w$]/.test(sql[i - 1]!))) {
      const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? n : end + tag[0].length;
        skipped?.(start, i, false);
        continue;
      }
    }
    visit(i);
    i++;
  }
}

/** The statement text without comments, trimmed (what decides whether a statement is empty). */
export function stripComments(sql: string): string {
  let out = '';
  scan(
    sql,
    (i) => (out += sql[i]),
    (start, end, comment) => (out += comment ? ' ' : sql.slice(start, end)),
  );
  return out.trim();
}

/** Splits a simple-query string at top-level semicolons; empty statements are dropped. */
export function splitStatements(sql: string): string[] {
  const cuts: number[] = [];
  scan(sql, (i) => {
    if (sql[i] === ';') cuts.push(i);
  });
  const out: string[] = [];
  let start = 0;
  for (const cut of [...cuts, sql.length]) {
    const piece = sql.slice(start, cut);
    if (stripComments(piece) !== '') out.push(piece.trim());
    start = cut + 1;
  }
  return out;
}

/** The highest $n placeholder a statement uses (0 for none). */
export function countPlaceholders(sql: string): number {
  let max = 0;
  scan(sql, (i) => {
    if (sql[i] !== '$' || (i > 0 && /[\w$]/.test(sql[i - 1]!))) return;
    const m = /^\$(\d+)/.exec(sql.slice(i, i + 8));
    if (m) max = Math.max(max, Number(m[1]));
  });
  return max;
}

export type StatementKind =
  | { kind: 'empty' }
  | { kind: 'begin'; tag: 'BEGIN' | 'START TRANSACTION' }
  | { kind: 'commit' }
  | { kind: 'rollback' }
  | { kind: 'savepoint' }
  | { kind: 'release' }
  | { kind: 'rollbackTo' }
  | { kind: 'copyIn' }
  | { kind: 'copyOut' }
  | { kind: 'other' };

/** What the engine itself does with a statement. */
export function classifyStatement(sql: string): StatementKind {
  const text = stripComments(sql).replace(/;\s*$/, '');
  if (text === '') return { kind: 'empty' };
  const words = text.toLowerCase().split(/\s+/, 4);
  const [first, second, third] = words;
  switch (first) {
    case 'begin':
      return { kind: 'begin', tag: 'BEGIN' };
    case 'start':
      return second === 'transaction' ? { kind: 'begin', tag: 'START TRANSACTION' } : { kind: 'other' };
    case 'commit':
    case 'end':
      return second === 'prepared' ? { kind: 'other' } : { kind: 'commit' };
    case 'abort':
      return { kind: 'rollback' };
    case 'rollback':
      if (second === 'prepared') return { kind: 'other' };
      return second === 'to' || third === 'to' ? { kind: 'rollbackTo' } : { kind: 'rollback' };
    case 'savepoint':
      return { kind: 'savepoint' };
    case 'release':
      return { kind: 'release' };
    case 'copy':
      if (/\bfrom\s+stdin\b/i.test(text)) return { kind: 'copyIn' };
      if (/\bto\s+stdout\b/i.test(text)) return { kind: 'copyOut' };
      return { kind: 'other' };
    default:
      return { kind: 'other' };
  }
}

/** The COPY format a statement asks for: `BINARY`, `(FORMAT binary)`, `(FORMAT csv)`, `CSV`; text otherwise. */
export function copyFormatOf(sql: string): 'text' | 'binary' | 'csv' {
  const text = stripComments(sql);
  if (/\bformat\s+'?binary'?/i.test(text) || /\b(with\s+)?binary\b/i.test(text.replace(/\bformat\s+\S+/i, ''))) return 'binary';
  if (/\bformat\s+'?csv'?/i.test(text) || /\bcsv\b/i.test(text)) return 'csv';
  return 'text';
}
