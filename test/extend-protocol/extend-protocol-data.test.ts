/** The store's semantics (protocol.md §C) and the transaction boundaries that drive it. */
import { describe, expect, it } from 'vitest';
import { ExtendProtocolSubtag as T, type ExtendProtocol } from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import type { BackendMessage } from '../../generated/index.js';
import { TransactionBoundaries, type TransactionEnd } from '../../runtime/client/transaction-boundaries.js';
import { ExtendProtocolData } from '../../runtime/extend-protocol/extend-protocol-data.js';
import { modifiedRelationBlocks } from '../../runtime/extend-protocol/executor.js';
import { diffXactStats } from '../../runtime/extend-protocol/xact-stats.js';

const e = (...blocks: [number, number[]][]): ExtendProtocol => ({
  type: 'ExtendProtocol',
  blocks: blocks.flatMap(([subtag, oids]) => modifiedRelationBlocks({ inserted: subtag === 0 ? oids : [], updated: subtag === 1 ? oids : [], deleted: subtag === 2 ? oids : [] })),
});

describe('ExtendProtocolData', () => {
  it('keeps blocks per subtag; consume returns and clears; nothing new means nothing', () => {
    const s = new ExtendProtocolData();
    s.store(e([0, [1]], [2, [9]]));
    s.store(e([0, [2, 3]]));
    expect(s.consume(T.Inserted)).toHaveLength(2);
    expect(s.consume(T.Inserted)).toEqual([]);
    expect(s.consumeModifiedRelations()).toEqual({ inserted: [], updated: [], deleted: [9] });
    s.store(e([0, [4]]));
    expect(s.consumeModifiedRelations().inserted).toEqual([4]);
  });

  it('copies the blocks it keeps', () => {
    const s = new ExtendProtocolData();
    const m = e([1, [7]]);
    s.store(m);
    (m.blocks[0]!.data as Uint8Array).fill(0);
    expect(s.consumeModifiedRelations().updated).toEqual([7]);
  });

  it('warns once per unconsumed subtag at commit and clears; abort clears silently', () => {
    const warned: string[] = [];
    const s = new ExtendProtocolData({ onWarning: (w) => warned.push(w.message) });
    s.store(e([2, [1]], [0, [1]]));
    s.store(e([0, [2]]));
    expect(s.transactionCommitted().map((w) => w.subtag)).toEqual([0, 2]);
    expect(warned).toEqual(['Extend Protocol Data unconsumed, subtag: 0', 'Extend Protocol Data unconsumed, subtag: 2']);
    expect(s.hasUnconsumed()).toBe(false);
    expect(s.transactionCommitted()).toEqual([]);
    s.store(e([1, [5]]));
    s.transactionAborted();
    expect(s.hasUnconsumed()).toBe(false);
    expect(warned).toHaveLength(2);
  });
});

describe('TransactionBoundaries', () => {
  const run = (messages: BackendMessage[]): TransactionEnd[] => {
    const b = new TransactionBoundaries();
    const ends: TransactionEnd[] = [];
    b.onEnd((x) => ends.push(x));
    for (const m of [{ type: 'ReadyForQuery', status: 'I' } as BackendMessage, ...messages]) b.observe(m);
    return ends;
  };
  const cc = (tag: string): BackendMessage => ({ type: 'CommandComplete', tag });
  const z = (status: 'I' | 'T' | 'E'): BackendMessage => ({ type: 'ReadyForQuery', status });
  const err: BackendMessage = { type: 'ErrorResponse', fields: [] };

  it('startup is no transaction', () => expect(run([])).toEqual([]));
  it('autocommit commits at ReadyForQuery', () => expect(run([cc('INSERT 0 1'), z('I')])).toEqual(['commit']));
  it('an error in an implicit transaction aborts', () => expect(run([cc('INSERT 0 1'), err, z('I')])).toEqual(['abort']));
  it('COMMIT and ROLLBACK tags end blocks, also inside one Query', () =>
    expect(run([cc('BEGIN'), cc('INSERT 0 1'), cc('COMMIT'), cc('BEGIN'), cc('INSERT 0 1'), cc('ROLLBACK'), z('I')])).toEqual(['commit', 'abort']));
  it('a failed block ends with tag ROLLBACK even for COMMIT', () => expect(run([cc('BEGIN'), z('T'), err, z('E'), cc('ROLLBACK'), z('I')])).toEqual(['abort']));
  it('ROLLBACK TO SAVEPOINT does not end the transaction', () =>
    expect(run([cc('BEGIN'), z('T'), cc('SAVEPOINT'), z('T'), cc('ROLLBACK'), z('T'), cc('COMMIT'), z('I')])).toEqual(['commit']));
  it('a ROLLBACK with a savepoint open ends the transaction when ReadyForQuery says I', () =>
    expect(run([cc('BEGIN'), cc('SAVEPOINT'), z('T'), cc('ROLLBACK'), z('I')])).toEqual(['abort']));
  it('an error at COMMIT aborts', () => expect(run([cc('BEGIN'), z('T'), err, z('I')])).toEqual(['abort']));
  it('PREPARE TRANSACTION ends without commit', () => expect(run([cc('BEGIN'), z('T'), cc('PREPARE TRANSACTION'), z('I')])).toEqual(['prepare']));
});

describe('diffXactStats', () => {
  it('names the relations whose counters grew', () => {
    const before = [{ relid: 10, inserted: 1, updated: 0, deleted: 0 }];
    const after = [
      { relid: 11, inserted: 0, updated: 0, deleted: 2 },
      { relid: 10, inserted: 3, updated: 1, deleted: 0 },
      { relid: 12, inserted: 0, updated: 0, deleted: 0 },
    ];
    expect(diffXactStats(before, after)).toEqual({ inserted: [10], updated: [10], deleted: [11] });
  });
});
