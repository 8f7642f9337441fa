/** Result sets as a client sees them, built from the backend messages of one request. */
import type { BackendMessage, ColumnDescription } from '../../generated/index.js';
import type { ValueList } from '../wire/index.js';
import { readErrorFields } from '../protocol/error-fields.js';
import { PgError } from './errors.js';

export interface Field {
  readonly name: string;
  /** The table the column comes from (0 if none) and its attribute number. */
  readonly tableOid: number;
  readonly columnNumber: number;
  readonly typeOid: number;
  readonly typeSize: number;
  readonly typeModifier: number;
  /** 0 text, 1 binary. */
  readonly format: number;
}

/** One command's outcome: its tag, and its rows if it returned any. */
export interface ResultSet<V = string | null> {
  /** The CommandComplete tag ("INSERT 0 1", "SELECT 2"); empty for an empty query or a suspended portal. */
  readonly command: string;
  /** The count the tag ends with, for commands whose tag has one. */
  readonly rowCount: number | undefined;
  readonly fields: readonly Field[];
  readonly rows: V[][];
  /** The portal stopped at maxRows (PortalSuspended) and has more rows. */
  readonly suspended: boolean;
  /** The query string was empty (EmptyQueryResponse). */
  readonly empty: boolean;
  /** COPY TO STDOUT data, one chunk per CopyData. */
  readonly copyData?: readonly Uint8Array[];
}

const COUNTED = /^(?:INSERT \d+|SELECT|UPDATE|DELETE|MERGE|MOVE|FETCH|COPY) (\d+)$/;

export function rowCountOf(tag: string): number | undefined {
  const m = COUNTED.exec(tag);
  return m ? Number(m[1]) : undefined;
}

export function toField(c: ColumnDescription): Field {
  return {
    name: c.name,
    tableOid: c.tableOid,
    columnNumber: c.columnNumber,
    typeOid: c.typeOid,
    typeSize: c.typeSize,
    typeModifier: c.typeModifier,
    format: c.format,
  };
}

export const textRow = (values: ValueList): (string | null)[] => values.texts();
/** Binary rows are copied out of the receive buffer, so they stay valid. */
export const binaryRow = (values: ValueList): (Uint8Array | null)[] => values.toArray().map((v) => (v === null ? null : Uint8Array.from(v)));

/** Collects the result sets and the error of one request, message by message. */
export class ResultBuilder<V> {
  readonly results: ResultSet<V>[] = [];
  error: PgError | undefined;
  private fields: Field[] | undefined;
  private rows: V[][] = [];
  private copyData: Uint8Array[] | undefined;

  constructor(private readonly row: (values: ValueList) => V[]) {}

  /** The columns of the last RowDescription/NoData not yet followed by a completion (a Describe's answer). */
  get describedFields(): Field[] | undefined {
    return this.fields;
  }

  /** Handles a message if it is part of a result; false for anything else. */
  handle(m: BackendMessage): boolean {
    switch (m.type) {
      case 'RowDescription':
        this.fields = m.columns.map(toField);
        this.rows = [];
        return true;
      case 'NoData':
        this.fields = [];
        return true;
      case 'DataRow':
        this.rows.push(this.row(m.values));
        return true;
      case 'CommandComplete':
        this.finish(m.tag, false, false);
        return true;
      case 'PortalSuspended':
        this.finish('', true, false);
        return true;
      case 'EmptyQueryResponse':
        this.finish('', false, true);
        return true;
      case 'CopyOutResponse':
        this.copyData = [];
        return true;
      case 'CopyData':
        this.copyData?.push(Uint8Array.from(m.data));
        return true;
      case 'CopyDone':
        return true;
      case 'ErrorResponse':
        // Only the first error counts: after it the server skips to Sync or ends the query.
        this.error ??= new PgError(readErrorFields(m));
        return true;
      default:
        return false;
    }
  }

  private finish(tag: string, suspended: boolean, empty: boolean): void {
    this.results.push({
      command: tag,
      rowCount: rowCountOf(tag),
      fields: this.fields ?? [],
      rows: this.rows,
      suspended,
      empty,
      ...(this.copyData !== undefined ? { copyData: this.copyData } : {}),
    });
    this.fields = undefined;
    this.rows = [];
    this.copyData = undefined;
  }
}
