/**
 * The CSV example served to psql and node-postgres: plain SELECTs, psql's \dt, a clear error for
 * SQL it does not support, parameters, and a pg-cursor paging a portal (PortalSuspended, resume).
 * COPY goes through the fixture handler, which takes COPY FROM STDIN and gives COPY TO STDOUT.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import pg from 'pg';
import { HandlerEngine } from '../../../runtime/engines/handlers/index.js';
import { csvHandlers } from '../../../examples/csv-server/csv-handlers.js';
import { loadDirectory } from '../../../examples/csv-server/csv.js';
import { describeWithClient, runPsql } from '../../support/clients.js';
import { csvDirectory, fixtureEngine, serve, type Running } from './fixtures.js';

/** pg-cursor ships no types; the part these tests use. */
interface PgCursor extends pg.Submittable {
  read(rows: number): Promise<unknown[]>;
  close(): Promise<void>;
}
const Cursor = createRequire(import.meta.url)('pg-cursor') as new (text: string, values?: unknown[]) => PgCursor;

const CITIES = `id,name,population,area,capital,founded,updated
1,Paris,2148000,105.4,true,0300-01-01,2024-01-05 10:00:00
2,"Lyon, France",513000,47.87,false,,2024-02-29 23:59:59.5
3,Marseille,861000,240.6,false,1599-12-31,2023-12-31 00:00:00
`;
const NUMBERS = `n,square\n${Array.from({ length: 10 }, (_, i) => `${i + 1},${(i + 1) ** 2}`).join('\n')}\n`;

let csv: Running;
let fixture: Running;
let files: { dir: string; remove(): void };
const items: unknown[][] = [];

beforeAll(async () => {
  files = csvDirectory({ 'cities.csv': CITIES, 'numbers.csv': NUMBERS });
  csv = await serve(new HandlerEngine(csvHandlers(loadDirectory(files.dir))));
  fixture = await serve(fixtureEngine(undefined, undefined, items));
});

afterAll(async () => {
  await Promise.all([csv?.close(), fixture?.close()]);
  files?.remove();
});

const psqlArgs = (port: number): string[] => ['-h', '127.0.0.1', '-p', String(port), '-U', 'someone', '-d', 'csv', '-v', 'ON_ERROR_STOP=0'];

describeWithClient('psql', 'CSV server with psql', () => {
  it('lists tables with \\dt and selects with the inferred types', async () => {
    const r = await runPsql([...psqlArgs(csv.port), '-A', '-F', '|', '-c', '\\dt', '-c', 'SELECT * FROM cities', '-c', "select name, area from cities where capital = 'true'"]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('public|cities|table|someone');
    expect(r.stdout).toContain('public|numbers|table|someone');
    expect(r.stdout).toContain('1|Paris|2148000|105.4|t|0300-01-01|2024-01-05 10:00:00');
    expect(r.stdout).toContain('2|Lyon, France|513000|47.87|f||2024-02-29 23:59:59.5');
    expect(r.stdout).toContain('Paris|105.4\n(1 row)');
  });

  it('refuses unsupported SQL with a clear error and goes on', async () => {
    const r = await runPsql([...psqlArgs(csv.port), '-c', 'DELETE FROM cities', '-c', 'SELECT nope FROM cities', '-c', 'SELECT n FROM numbers LIMIT 2']);
    expect(r.stderr).toContain('ERROR:  unsupported statement: DELETE FROM cities');
    expect(r.stderr).toContain('HINT:  this server supports SELECT');
    expect(r.stderr).toContain('ERROR:  column "nope" does not exist');
    expect(r.stdout).toContain('(2 rows)');
  });

  it('runs COPY FROM STDIN and COPY TO STDOUT through the handler', async () => {
    const input = 'COPY items FROM STDIN;\n1\tone\t2024-01-01 10:00:00\n2\t\\N\t2024-01-02 00:00:00.5\n3\ttab\\there\t\\N\n\\.\nCOPY items TO STDOUT;\n';
    const r = await runPsql([...psqlArgs(fixture.port)], input);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('COPY 3');
    expect(r.stdout).toContain('1\tone\t2024-01-01 10:00:00\n2\t\\N\t2024-01-02 00:00:00.5\n3\ttab\\there\t\\N\n');
    expect(items[2]).toEqual([3, 'tab\there', null]);
    // A failing handler fails the COPY; the session goes on.
    const bad = await runPsql([...psqlArgs(fixture.port), '-c', "COPY items FROM STDIN", '-c', 'SELECT n FROM generate_series(1, 1) n'], '13\tx\t\\N\n\\.\n');
    expect(bad.stderr).toContain('ERROR:  unlucky row');
    expect(bad.stdout).toContain('(1 row)');
  });
});

describeWithClient('node-pg', 'CSV server with node-postgres', () => {
  it('binds parameters of the column types, in text and binary', async () => {
    const client = new pg.Client({ connectionString: csv.url });
    await client.connect();
    try {
      const byId = await client.query('SELECT name, population, founded FROM cities WHERE id = $1', [3]);
      expect(byId.rows).toEqual([{ name: 'Marseille', population: '861000', founded: new Date('1599-12-31T00:00:00') }]);
      expect(byId.fields.map((f) => f.dataTypeID)).toEqual([25, 20, 1082]);
      const byName = await client.query({ text: 'SELECT id FROM cities WHERE name = $1 AND capital = $2', values: ['Lyon, France', false], rowMode: 'array' });
      expect(byName.rows).toEqual([['2']]);
      const limited = await client.query('SELECT n FROM numbers LIMIT $1', [4]);
      expect(limited.rowCount).toBe(4);
      await expect(client.query('SELECT * FROM nowhere')).rejects.toMatchObject({ code: '42P01' });
      expect((await client.query('SELECT square FROM numbers WHERE n = 10')).rows).toEqual([{ square: '100' }]);
    } finally {
      await client.end();
    }
  });

  it('pages a portal with pg-cursor: PortalSuspended at each limit, then resumed', async () => {
    const client = new pg.Client({ connectionString: csv.url });
    await client.connect();
    try {
      const cursor = client.query(new Cursor('SELECT n FROM numbers LIMIT $1', [9]));
      const pages: number[][] = [];
      for (;;) {
        const rows = (await cursor.read(3)) as { n: string }[];
        pages.push(rows.map((r) => Number(r.n)));
        if (rows.length < 3) break;
      }
      await cursor.close();
      expect(pages).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], []]);
      expect((await client.query('SELECT n FROM numbers LIMIT 1')).rows).toEqual([{ n: '1' }]);
    } finally {
      await client.end();
    }
  });

  it('reports BEGIN/COMMIT and failed blocks', async () => {
    const client = new pg.Client({ connectionString: csv.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await expect(client.query('SELECT x FROM cities')).rejects.toMatchObject({ code: '42703' });
      await expect(client.query('SELECT id FROM cities')).rejects.toMatchObject({ code: '25P02' });
      const end = await client.query('COMMIT');
      expect(end.command).toBe('ROLLBACK');
      expect((await client.query('SELECT id FROM cities LIMIT 1')).rows).toEqual([{ id: '1' }]);
    } finally {
      await client.end();
    }
  });
});
