/**
 * The value codecs against a real PostgreSQL 15: for each literal, PostgreSQL's own text and
 * binary output must equal what the codecs make of the same value, byte for byte, and the
 * codecs' binary must read back in PostgreSQL as the same value.
 */
import { Buffer } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataRow } from '../../generated/index.js';
import { codecForName, type AnyCodec } from '../../runtime/values/index.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { RawClient, errorOf } from '../runtime/support/raw-client.js';

/** [type, SQL literal] pairs; each literal is cast to the type in PostgreSQL. */
const CASES: [string, string][] = [
  ['bool', 'true'],
  ['bool', 'f'],
  ['int2', '-32768'],
  ['int4', '2147483647'],
  ['int4', '-17'],
  ['int8', '-9223372036854775808'],
  ['int8', '9007199254740993'],
  ['float4', '3.14'],
  ['float4', '1e10'],
  ['float4', '123456'],
  ['float4', '1234567'],
  ['float4', '-0.000012'],
  ['float4', 'NaN'],
  ['float8', '0.1'],
  ['float8', '1e15'],
  ['float8', '123456789012345'],
  ['float8', '0.0001'],
  ['float8', '0.00001'],
  ['float8', '-2.5e300'],
  ['float8', '-Infinity'],
  ['float8', '5e-324'],
  ['float8', '-0'],
  ['numeric', '0'],
  ['numeric', '0.000'],
  ['numeric', '12.50'],
  ['numeric', '-0.0001'],
  ['numeric', '123456789.000000001'],
  ['numeric', '10000'],
  ['numeric', '1e-20'],
  ['numeric', '-12345678901234567890.123'],
  ['numeric', '99990000'],
  ['numeric', 'NaN'],
  ['numeric', 'Infinity'],
  ['numeric', '-Infinity'],
  ['text', 'héllo, wörld'],
  ['varchar', ''],
  ['name', 'pg_class'],
  ['bpchar', 'ab  '],
  ['char', 'r'],
  ['bytea', '\\x00ff10'],
  ['bytea', '\\x'],
  ['date', '2024-02-29'],
  ['date', '1999-12-31'],
  ['date', '0044-03-15 BC'],
  ['date', 'infinity'],
  ['date', '-infinity'],
  ['time', '13:05:00.5'],
  ['time', '00:00:00'],
  ['time', '23:59:59.999999'],
  ['timestamp', '2024-02-29 13:05:00.123456'],
  ['timestamp', '1969-07-20 20:17:40'],
  ['timestamp', '0044-03-15 12:00:00 BC'],
  ['timestamp', 'infinity'],
  ['timestamptz', '2024-02-29 13:05:00+02'],
  ['timestamptz', '1900-01-01 00:00:00.000001Z'],
  ['timestamptz', '-infinity'],
  ['interval', '1 year 2 mons 3 days 04:05:06.5'],
  ['interval', '-1 days +02:00:00'],
  ['interval', '00:00:00'],
  ['interval', '-00:00:01.25'],
  ['interval', '1 mon -1 days'],
  ['interval', '-1 years -2 mons'],
  ['interval', '100:00:00'],
  ['interval', 'P1Y2M3DT4H5M6S'],
  ['interval', '@ 2 days 3 hours ago'],
  ['uuid', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'],
  ['json', '{"a":1,"b":[true,null]}'],
  ['jsonb', '{"bb": [1, 2], "a": {"c": null}, "ccc": "x"}'],
  ['jsonb', '"just a string"'],
  ['int4[]', '{1,NULL,3}'],
  ['int4[]', '{}'],
  ['text[]', '{"a b","",NULL,"NULL","q\\"uote",x,"back\\\\slash","{braces}"}'],
  ['numeric[]', '{1.5,NaN,-0.01}'],
  ['date[]', '{2024-01-01,NULL}'],
  ['bool[]', '{t,f}'],
  ['float8[]', '{1e+20,0.5}'],
  ['timestamptz[]', '{"2024-01-01 00:00:00+00"}'],
  ['uuid[]', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'],
  ['jsonb[]', '{"{\\"a\\": 1}"}'],
  ['bytea[]', '{"\\\\x0102"}'],
  ['interval[]', '{"1 day"}'],
];

let pg: PostgresServer;
let client: RawClient;

beforeAll(async () => {
  pg = await startPostgres();
  client = await RawClient.connect(pg.port);
  const got = await client.login('postgres', { parameters: [{ name: 'database', value: 'postgres' }, { name: 'TimeZone', value: 'UTC' }] });
  expect(got.at(-1)!.type).toBe('ReadyForQuery');
});

afterAll(async () => {
  client?.close();
  await pg?.stop();
});

const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Runs one extended-protocol query and returns the single value of its single row. */
async function selectOne(sql: string, resultFormat: 0 | 1, param?: { oid: number; format: 0 | 1; value: Uint8Array | string }): Promise<Buffer | null> {
  client.send(
    { type: 'Parse', statement: '', query: sql, parameterTypes: param ? [param.oid] : [] },
    { type: 'Bind', portal: '', statement: '', parameterFormats: param ? [param.format] : [], parameters: valueList(param?.value), resultFormats: [resultFormat] },
    { type: 'Execute', portal: '', maxRows: 0 },
    { type: 'Sync' },
  );
  const got = await client.until('ReadyForQuery');
  const row = got.find((m): m is DataRow => m.type === 'DataRow');
  if (!row) throw new Error(`${sql}: ${errorOf(got).message}`);
  const v = row.values.get(0);
  return v === null ? null : Buffer.from(v);
}

import { ValueList } from '../../runtime/wire/index.js';
function valueList(v: Uint8Array | string | undefined): ValueList {
  return ValueList.from(v === undefined ? [] : [v]);
}

describe('value codecs agree with PostgreSQL 15', () => {
  for (const [typeName, literal] of CASES) {
    it(`${typeName} ${literal}`, async () => {
      const codec: AnyCodec = codecForName(typeName)!;
      expect(codec, typeName).toBeDefined();
      const sql = `SELECT ${quoteLiteral(literal)}::${typeName}`;
      const text = (await selectOne(sql, 0))!.toString('utf8');
      const binary = (await selectOne(sql, 1))!;
      // Text: our reading of PostgreSQL's output prints back identically.
      const fromText = codec.decodeText(text);
      expect(codec.encodeText(fromText)).toBe(text);
      // Binary: the same value encodes to PostgreSQL's bytes, and its bytes decode to the same text.
      expect(Buffer.from(codec.encodeBinary(fromText)).toString('hex')).toBe(binary.toString('hex'));
      expect(codec.encodeText(codec.decodeBinary(binary))).toBe(text);
      // Our literal reading agrees with PostgreSQL's where PostgreSQL's output is canonical.
      if (typeName !== 'json') expect(codec.encodeText(codec.decodeText(literal))).toBe(text);
      // PostgreSQL reads our binary as the same value (compared through a cast both sides share).
      const expected = (await selectOne(`${sql}::text`, 0))!.toString('utf8');
      const back = await selectOne(`SELECT $1::${typeName}::text`, 0, { oid: codec.type.oid, format: 1, value: codec.encodeBinary(fromText) });
      expect(back!.toString('utf8')).toBe(expected);
    });
  }
});
