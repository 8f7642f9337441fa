/**
 * The dispatcher's store for Cloudberry's 'e' messages (Cloudberry's ExtendProtocolData): every
 * block an executor sends is kept under its subtag until someone consumes that subtag or the
 * top-level transaction ends.
 *
 * - `store(message)` appends each block of one 'e' message to its subtag's list, in order, and
 *   marks the subtag as having something new.
 * - `consume(subtag)` hands out that subtag's blocks and forgets them; called again before another
 *   'e' brings that subtag, it returns an empty list.
 * - `transactionCommitted()`: for each subtag still holding unconsumed blocks, ONE warning
 *   ("Extend Protocol Data unconsumed, subtag: N"), then everything is cleared.
 * - `transactionAborted()`: everything is cleared, silently.
 *
 * The store does not know where transactions end; a client feeds it those boundaries from the
 * protocol (see `bindExtendProtocolData`).
 */
import {
  ExtendProtocolSubtag,
  decodeModifiedRelations,
  extendProtocolSubtagName,
  type ExtendProtocol,
} from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { Reader } from '../wire/index.js';

/** A data subtag (every ExtendProtocolSubtag but End). */
export type DataSubtag = Exclude<ExtendProtocolSubtag, typeof ExtendProtocolSubtag.End>;

/** The WARNING-like record of data left unconsumed at commit, shaped like a notice. */
export interface ExtendProtocolWarning {
  readonly severity: 'WARNING';
  readonly message: string;
  readonly subtag: number;
  readonly subtagName: string;
  /** How many blocks were dropped unconsumed. */
  readonly blocks: number;
}

/** The relations an executor reported modified, by kind (Cloudberry's ConsumeAndProcessExtendProtocolData_IUD). */
export interface ModifiedRelationsReport {
  readonly inserted: number[];
  readonly updated: number[];
  readonly deleted: number[];
}

export interface ExtendProtocolDataOptions {
  readonly onWarning?: (warning: ExtendProtocolWarning) => void;
}

export class ExtendProtocolData {
  private readonly lists = new Map<number, Uint8Array[]>();
  /** Every warning raised so far, oldest first. */
  readonly warnings: ExtendProtocolWarning[] = [];
  onWarning: ((warning: ExtendProtocolWarning) => void) | undefined;

  constructor(options: ExtendProtocolDataOptions = {}) {
    this.onWarning = options.onWarning;
  }

  /** Keeps the blocks of one decoded 'e' message. The blocks are copied: the store owns them. */
  store(message: ExtendProtocol): void {
    for (const block of message.blocks) {
      let list = this.lists.get(block.subtag);
      if (list === undefined) this.lists.set(block.subtag, (list = []));
      list.push(Uint8Array.from(block.data));
    }
  }

  /** The blocks stored for `subtag` since its last consume, oldest first; they are forgotten. */
  consume(subtag: DataSubtag): Uint8Array[] {
    const list = this.lists.get(subtag);
    if (list === undefined) return [];
    this.lists.delete(subtag);
    return list;
  }

  /** Consumes Inserted, Updated and Deleted and decodes their relation OIDs (duplicates kept, in arrival order). */
  consumeModifiedRelations(): ModifiedRelationsReport {
    const oids = (subtag: DataSubtag): number[] =>
      this.consume(subtag).flatMap((data) => [...decodeModifiedRelations(new Reader(data, 0, data.length, 'ModifiedRelations'), { protocolVersion: 0 }).relationOids]);
    return { inserted: oids(ExtendProtocolSubtag.Inserted), updated: oids(ExtendProtocolSubtag.Updated), deleted: oids(ExtendProtocolSubtag.Deleted) };
  }

  /** Whether `subtag` (or any subtag) holds blocks not yet consumed. */
  hasUnconsumed(subtag?: DataSubtag): boolean {
    return subtag === undefined ? this.lists.size > 0 : this.lists.has(subtag);
  }

  /** The blocks `subtag` holds, without consuming them. */
  peek(subtag: DataSubtag): readonly Uint8Array[] {
    return this.lists.get(subtag) ?? [];
  }

  /** The top-level transaction committed: one warning per subtag left unconsumed, then clear. */
  transactionCommitted(): ExtendProtocolWarning[] {
    const raised: ExtendProtocolWarning[] = [];
    for (const subtag of [...this.lists.keys()].sort((a, b) => a - b)) {
      const warning: ExtendProtocolWarning = {
        severity: 'WARNING',
        message: `Extend Protocol Data unconsumed, subtag: ${subtag}`,
        subtag,
        subtagName: extendProtocolSubtagName(subtag) ?? String(subtag),
        blocks: this.lists.get(subtag)!.length,
      };
      raised.push(warning);
    }
    this.lists.clear();
    for (const w of raised) {
      this.warnings.push(w);
      this.onWarning?.(w);
    }
    return raised;
  }

  /** The top-level transaction aborted (or was prepared): clear without warning. */
  transactionAborted(): void {
    this.lists.clear();
  }
}
