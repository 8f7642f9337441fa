/**
 * The handler engine's protocol behaviour, message by message, checked against a real
 * PostgreSQL 15 having the same conversation: row limits and PortalSuspended at the exact
 * boundary, portal lifetimes, skip-until-Sync, one ReadyForQuery per Sync, transaction status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrontendMessage } from '../../../generated/index.js';
import { ValueList } from '../../../runtime/wire/index.js';
import { readErrorFields } from '../../../runtime/protocol/error-fields.js';
import { startPostgres, type PostgresServer } from '../../support/postgres-server.js';
import { RawClient, type Received } from '../../runtime/support/raw-client.js';
import { FAILING, fixtureEngine, serve, type Running } from './fixtures.js';

let ours: Running;
let pg: PostgresServer;

beforeAll(async () => {
  [ours, pg] = await Promise.all([serve(fixtureEngine()), startPostgres()]);
});

afterAll(async () => {
  await Promise.all([ours?.close(), pg?.stop()]);
});

async function connect(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  const got = await c.login('postgres', { parameters: [{ name: 'database', value: 'postgres' }] });
  expect(got.at(-1)!.type).toBe('ReadyForQuery');
  return c;
}

/** A message list in a form both servers must agree on: types, tags, statuses, SQLSTATEs, row values. */
function summary(messages: readonly Received[]): string[] {
  return messages.map((m) => {
    switch (m.type) {
      case 'CommandComplete':
        return `C ${m.tag}`;
      case 'ReadyForQuery':
        return `Z ${m.status}`;
      case 'ErrorResponse':
        return `E ${readErrorFields(m).code}`;
      case 'NoticeResponse':
        return `N ${readErrorFields(m).code}`;
      case 'DataRow':
        return `D ${m.values.texts().join(',')}`;
      case 'RowDescription':
        return `T ${m.columns.map((c) => `${c.name}:${c.typeOid}:${c.format}`).join(',')}`;
      case 'ParameterDescription':
        return `t ${m.parameterTypes.join(',')}`;
      default:
        return m.type;
    }
  });
}

/** Sends each step's messages and reads until as many ReadyForQuery as the step has Syncs and Queries. */
async function converse(port: number, steps: FrontendMessage[][]): Promise<string[][]> {
  const c = await connect(port);
  try {
    const out: string[][] = [];
    for (const step of steps) {
      c.send(...step);
      const expected = step.filter((m) => m.type === 'Sync' || m.type === 'Query').length;
      const got: Received[] = [];
      for (let i = 0; i < expected; i++) got.push(...(await c.until('ReadyForQuery')));
      out.push(summary(got));
    }
    return out;
  } finally {
    c.close();
  }
}

const series = (n: number): string => `select n from generate_series(1, ${n}) n`;
const parse = (query: string, statement = '', parameterTypes: number[] = []): FrontendMessage => ({ type: 'Parse', statement, query, parameterTypes });
const bind = (portal = '', statement = '', values: (string | null)[] = [], resultFormats: number[] = []): FrontendMessage => ({
  type: 'Bind',
  portal,
  statement,
  parameterFormats: [],
  parameters: ValueList.from(values),
  resultFormats,
});
const execute = (portal = '', maxRows = 0): FrontendMessage => ({ type: 'Execute', portal, maxRows });
const describeP = (name = ''): FrontendMessage => ({ type: 'Describe', target: 'P', name });
const describeS = (name = ''): FrontendMessage => ({ type: 'Describe', target: 'S', name });
const sync: FrontendMessage = { type: 'Sync' };
const query = (q: string): FrontendMessage => ({ type: 'Query', query: q });

const CONVERSATIONS: Record<string, FrontendMessage[][]> = {
  'row limits suspend exactly at the boundary and resume': [[parse(series(4)), bind(), execute('', 2), execute('', 2), execute('', 2), sync]],
  'a one-row limit on a one-row result still suspends (asyncpg fetchrow)': [[parse(series(1)), bind(), describeP(), execute('', 1), sync]],
  'a limit above the row count completes': [[parse(series(2)), bind(), execute('', 5), sync]],
  'describe statement then portal, text and binary formats': [
    [parse(series(2), 's1'), describeS('s1'), bind('', 's1', [], [1]), describeP(), execute(), sync],
  ],
  'named portals live across Syncs inside a block and die at COMMIT': [
    [query('BEGIN')],
    [parse(series(5)), bind('c1'), execute('c1', 2), sync],
    [execute('c1', 2), sync],
    [execute('c1', 0), sync],
    [query('COMMIT')],
    [execute('c1', 1), sync],
  ],
  'the unnamed portal is dropped at Sync': [[parse(series(2)), bind(), sync], [execute(), sync]],
  'a named portal outside a block is dropped at Sync': [[parse(series(2)), bind('p'), sync], [execute('p'), sync]],
  'an error mid-pipeline skips to Sync, then the next batch runs': [
    [parse(series(1)), bind(), execute(), parse(FAILING), bind(), execute(), parse(series(1)), bind(), execute(), sync, parse(series(2)), bind(), execute(), sync],
  ],
  'an error inside a block leaves it failed until ROLLBACK': [
    [query('BEGIN')],
    [parse(FAILING), bind(), execute(), sync],
    [query(series(1))],
    [parse(series(1)), sync],
    [query('ROLLBACK')],
    [query(series(1))],
  ],
  'COMMIT of a failed block rolls back': [[query(`BEGIN; ${FAILING}`)], [query('COMMIT')]],
  'transaction control through the extended protocol': [
    [parse('BEGIN'), bind(), describeP(), execute(), sync],
    [parse(series(1)), bind(), execute(), sync],
    [parse('COMMIT'), bind(), execute(), sync],
  ],
  'COMMIT and ROLLBACK outside a block warn': [[query('COMMIT')], [query('ROLLBACK')], [query('BEGIN; BEGIN')], [query('END')]],
  'empty queries': [[query('')], [query(' ; ')], [parse(''), bind(), describeP(), execute(), sync]],
  'several statements in one Query, the failing one ends it': [[query(`${series(1)}; ${FAILING}; ${series(2)}`)]],
  'a bad statement name or portal name': [[bind('', 'nope'), sync], [describeS('nope'), sync], [execute('nope'), sync], [describeP('nope'), sync]],
  'Bind with the wrong parameter count': [[parse(series(1)), bind('', '', ['1']), execute(), sync]],
  'Bind with result formats for the wrong column count': [[parse(series(1)), bind('', '', [], [1, 1]), execute(), sync]],
  'a duplicate named statement': [[parse(series(1), 'dup'), parse(series(1), 'dup'), sync]],
  'Close of what does not exist succeeds': [[{ type: 'Close', target: 'S', name: 'none' }, { type: 'Close', target: 'P', name: 'none' }, sync]],
};

describe('handler engine converses like PostgreSQL 15', () => {
  for (const [title, steps] of Object.entries(CONVERSATIONS)) {
    it(title, async () => {
      const [mine, theirs] = await Promise.all([converse(ours.port, steps), converse(pg.port, steps)]);
      expect(mine).toEqual(theirs);
    });
  }
});
