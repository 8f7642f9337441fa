/**
 * The SQL the CSV server understands:
 *   SELECT * | col, ... FROM [public.]table [WHERE col = value|$n [AND ...]] [LIMIT n|$n]
 *   SET name = value / TO value, SHOW name
 * and the catalog query psql's \dt and \d send. Anything else is refused with a clear error.
 */
import { HandlerError } from '../../runtime/engines/handlers/index.js';

type Token =
  | { kind: 'ident'; value: string; quoted: boolean }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: string }
  | { kind: 'param'; index: number }
  | { kind: 'punct'; value: string };

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s+|--[^\n]*|("(?:[^"]|"")*")|('(?:[^']|'')*')|(\$\d+)|([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|([A-Za-z_][\w$]*)|([*,=;.()])/y;
  let pos = 0;
  while (pos < sql.length) {
    re.lastIndex = pos;
    const m = re.exec(sql);
    if (!m) throw syntaxError(sql, pos);
    pos = re.lastIndex;
    if (m[1]) tokens.push({ kind: 'ident', value: m[1].slice(1, -1).replace(/""/g, '"'), quoted: true });
    else if (m[2]) tokens.push({ kind: 'string', value: m[2].slice(1, -1).replace(/''/g, "'") });
    else if (m[3]) tokens.push({ kind: 'param', index: Number(m[3].slice(1)) });
    else if (m[4]) tokens.push({ kind: 'number', value: m[4] });
    else if (m[5]) tokens.push({ kind: 'ident', value: m[5].toLowerCase(), quoted: false });
    else if (m[6]) tokens.push({ kind: 'punct', value: m[6] });
  }
  return tokens;
}

function syntaxError(sql: string, pos: number): HandlerError {
  return new HandlerError('42601', `syntax error at or near "${sql.slice(pos, pos + 10).split(/\s/)[0]}"`, undefined, { position: String(pos + 1) });
}

export const SUPPORTED =
  'this server supports SELECT * | columns FROM table [WHERE column = value [AND ...]] [LIMIT n], SET, SHOW and psql\'s \\dt';

export function unsupported(sql: string): HandlerError {
  return new HandlerError('0A000', `unsupported statement: ${sql.trim().split(/\s+/).slice(0, 4).join(' ')}`, undefined, { hint: SUPPORTED });
}

export type Operand = { readonly param: number } | { readonly literal: string | null };

export interface SelectStatement {
  readonly kind: 'select';
  readonly table: { readonly name: string; readonly quoted: boolean };
  /** Column names, or '*'. */
  readonly columns: readonly { readonly name: string; readonly quoted: boolean }[] | '*';
  readonly where: readonly { readonly column: { readonly name: string; readonly quoted: boolean }; readonly value: Operand }[];
  readonly limit: Operand | undefined;
}

export type Statement =
  | SelectStatement
  | { readonly kind: 'set' }
  | { readonly kind: 'show'; readonly name: string }
  | { readonly kind: 'listRelations'; readonly pattern: RegExp | undefined };

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly sql: string,
  ) {}

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  keyword(word: string): boolean {
    const t = this.peek();
    if (t?.kind === 'ident' && !t.quoted && t.value === word) {
      this.i++;
      return true;
    }
    return false;
  }

  punct(p: string): boolean {
    const t = this.peek();
    if (t?.kind === 'punct' && t.value === p) {
      this.i++;
      return true;
    }
    return false;
  }

  expectKeyword(word: string): void {
    if (!this.keyword(word)) throw this.error(`expected ${word.toUpperCase()}`);
  }

  ident(): { name: string; quoted: boolean } {
    const t = this.peek();
    if (t?.kind !== 'ident') throw this.error('expected a name');
    this.i++;
    return { name: t.value, quoted: t.quoted };
  }

  operand(): Operand {
    const t = this.peek();
    this.i++;
    if (t?.kind === 'param') return { param: t.index };
    if (t?.kind === 'string' || t?.kind === 'number') return { literal: t.value };
    if (t?.kind === 'ident' && !t.quoted && (t.value === 'true' || t.value === 'false')) return { literal: t.value };
    if (t?.kind === 'ident' && !t.quoted && t.value === 'null') return { literal: null };
    this.i--;
    throw this.error('expected a value or $n');
  }

  end(): void {
    this.punct(';');
    if (this.i < this.tokens.length) throw this.error('unexpected text');
  }

  error(what: string): HandlerError {
    const t = this.peek();
    const near = t === undefined ? 'end of input' : `"${'value' in t ? t.value : `$${t.index}`}"`;
    return new HandlerError('42601', `syntax error at or near ${near} (${what})`, undefined, { hint: SUPPORTED });
  }

  select(): SelectStatement {
    let columns: SelectStatement['columns'];
    if (this.punct('*')) columns = '*';
    else {
      const list = [this.ident()];
      while (this.punct(',')) list.push(this.ident());
      columns = list;
    }
    this.expectKeyword('from');
    let table = this.ident();
    if (this.punct('.')) {
      if (table.name !== 'public') throw new HandlerError('3F000', `schema "${table.name}" does not exist`);
      table = this.ident();
    }
    const where: { column: { name: string; quoted: boolean }; value: Operand }[] = [];
    if (this.keyword('where')) {
      do {
        const column = this.ident();
        if (!this.punct('=')) throw this.error('only column = value conditions are supported');
        where.push({ column, value: this.operand() });
      } while (this.keyword('and'));
    }
    const limit = this.keyword('limit') ? this.operand() : undefined;
    this.end();
    return { kind: 'select', table, columns, where, limit };
  }
}

/** psql's \dt / \d: a pg_class listing with "Schema", "Name", "Type" and "Owner" columns. */
function relationListing(sql: string): Statement | undefined {
  if (!/pg_catalog\.pg_class/i.test(sql) || !/as\s+"Schema"/i.test(sql) || !/as\s+"Name"/i.test(sql) || !/as\s+"Owner"/i.test(sql)) return undefined;
  const pattern = /c\.relname\s+OPERATOR\(pg_catalog\.~\)\s+'((?:[^']|'')*)'/i.exec(sql);
  return { kind: 'listRelations', pattern: pattern ? new RegExp(pattern[1]!.replace(/''/g, "'")) : undefined };
}

export function parseStatement(sql: string): Statement {
  const listing = relationListing(sql);
  if (listing) return listing;
  const tokens = tokenize(sql);
  const p = new Parser(tokens, sql);
  if (p.keyword('select')) return p.select();
  if (p.keyword('set')) return { kind: 'set' };
  if (p.keyword('show')) {
    const name = p.ident().name;
    p.end();
    return { kind: 'show', name };
  }
  throw unsupported(sql);
}
