/**
 * Prepared statements outlive a transaction, so in one shared backend they would collide between
 * client sessions (two JDBC connections both Parse "S_1") and leak (the unnamed statement of one
 * session bound by another). Each session's statement names, the unnamed one included, are
 * therefore mapped to private names, and mapped back in error messages.
 *
 * PostgreSQL replaces the unnamed statement silently on the next unnamed Parse or simple Query;
 * here every unnamed Parse gets a fresh private name and the replaced one is closed later, at a
 * point where the backend is known to answer a Close with exactly one CloseComplete.
 *
 * Portals need no mapping: a portal ends with its transaction, and a session keeps the backend
 * until its transaction ends, so its portals are gone before another session runs. (Leaving them
 * alone also keeps SQL cursors and protocol portals in one namespace, as clients expect.)
 */
import type { Parse } from '../../../generated/index.js';

const PREFIX = '__pgspec_';
const PRIVATE_NAME = /(unnamed )?prepared statement "(__pgspec_\d+_[A-Za-z0-9]+)"/g;
const DEALLOCATE = /^\s*deallocate\s+(?:prepare\s+)?("(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*)\s*;?\s*$/i;

export class StatementNames {
  private readonly prefix: string;
  private readonly named = new Map<string, string>();
  private readonly clientNames = new Map<string, string>();
  /** The private name standing for the unnamed statement now (`…u0` never exists). */
  private unnamed: string;
  private unnamedCount = 0;
  private stale: string[] = [];
  /** The Parse of every statement believed to exist, to re-create them if another session drops them all. */
  private readonly live = new Map<string, Parse>();

  constructor(sessionId: number) {
    this.prefix = `${PREFIX}${sessionId}_`;
    this.unnamed = `${this.prefix}u0`;
    this.clientNames.set(this.unnamed, '');
  }

  /** The Parse to send for a client's Parse. */
  parse(m: Parse): Parse {
    let name: string;
    if (m.statement === '') {
      this.retireUnnamed();
      name = this.unnamed = `${this.prefix}u${++this.unnamedCount}`;
      this.clientNames.set(name, '');
    } else {
      name = this.privateName(m.statement);
    }
    const mapped: Parse = { type: 'Parse', statement: name, query: m.query, parameterTypes: m.parameterTypes };
    this.live.set(name, mapped);
    return mapped;
  }

  /** The private name for a statement a Bind, Describe or Close refers to. */
  reference(name: string): string {
    return name === '' ? this.unnamed : this.privateName(name);
  }

  /** The private name for a Close of a statement; the statement is no longer expected to exist. */
  close(name: string): string {
    const mapped = this.reference(name);
    this.live.delete(mapped);
    return mapped;
  }

  /** A simple Query destroys the unnamed statement. */
  query(): void {
    this.retireUnnamed();
  }

  /** Replaced unnamed statements still to be closed in the backend. */
  takeStale(): string[] {
    const s = this.stale;
    this.stale = [];
    return s;
  }

  /** Every private name that may exist in the backend (to close them all when the session ends). */
  all(): string[] {
    return [...new Set([...this.live.keys(), ...this.stale])];
  }

  /** Statements to re-create after another session's DEALLOCATE ALL or DISCARD ALL dropped them. */
  restorable(): Parse[] {
    return [...this.live.values()];
  }

  /** This session dropped all its statements itself (DEALLOCATE ALL, DISCARD ALL). */
  forgetAll(): void {
    this.live.clear();
    this.stale = [];
    this.retireUnnamed();
    this.stale = [];
  }

  /**
   * Rewrites a simple Query that is exactly one `DEALLOCATE name` of a protocol-level statement
   * (DBD::Pg and psqlODBC free their statements this way) to use the private name.
   */
  rewriteDeallocate(query: string): string {
    const m = DEALLOCATE.exec(query);
    if (!m) return query;
    const ident = m[1]!;
    const name = ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident.toLowerCase();
    const mapped = this.named.get(name);
    if (mapped === undefined) return query;
    this.live.delete(mapped);
    return `DEALLOCATE "${mapped}"`;
  }

  /** Puts the client's names back into an error or notice text. */
  unmap(text: string): string {
    if (!text.includes(PREFIX)) return text;
    return text.replace(PRIVATE_NAME, (whole, _unnamed: string | undefined, priv: string) => {
      const client = this.clientNames.get(priv);
      if (client === undefined) return whole;
      return client === '' ? 'unnamed prepared statement' : `prepared statement "${client}"`;
    });
  }

  private privateName(name: string): string {
    let mapped = this.named.get(name);
    if (mapped === undefined) {
      mapped = `${this.prefix}${this.named.size + 1}`;
      this.named.set(name, mapped);
      this.clientNames.set(mapped, name);
    }
    return mapped;
  }

  private retireUnnamed(): void {
    if (this.unnamedCount === 0 || !this.live.has(this.unnamed)) return;
    this.live.delete(this.unnamed);
    this.stale.push(this.unnamed);
    this.clientNames.delete(this.unnamed);
    this.unnamed = `${this.prefix}u0`;
  }
}
