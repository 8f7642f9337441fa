/**
 * Smoke test for the real-client registry and runners: every client logs in to a
 * throwaway PostgreSQL 15 with SCRAM and runs one query.
 */
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithClient, runGo, runJava, runPgbench, runPsql, runPython } from './clients.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

const USER = 'client_user';
const PASSWORD = 'client pw';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ users: [{ name: USER, password: PASSWORD }] });
});
afterAll(async () => {
  await server?.stop();
});

/** libpq-style environment for the external clients. */
const libpqEnv = (): Record<string, string> => ({
  PGHOST: server.host,
  PGPORT: String(server.port),
  PGUSER: USER,
  PGPASSWORD: PASSWORD,
  PGDATABASE: 'postgres',
});

describeWithClient('psql', 'psql', () => {
  it('runs a query', async () => {
    const result = await runPsql(['-At', '-c', 'select 40 + 2'], undefined, { env: libpqEnv() });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('42');
  });
});

describeWithClient('pgbench', 'pgbench', () => {
  it('runs a custom script', async () => {
    const result = await runPgbench(['-n', '-t', '1', '-M', 'extended'], {
      env: libpqEnv(),
      script: 'select 1;\n',
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/number of transactions actually processed: 1/);
  });
});

describeWithClient('psycopg', 'psycopg 3', () => {
  it('runs a parameterized query', async () => {
    const code = [
      'import psycopg',
      'with psycopg.connect("") as conn:',
      '    print(conn.execute("select %s::int + 1", [41]).fetchone()[0])',
    ].join('\n');
    const result = await runPython(code, libpqEnv());
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('42');
  });
});

describeWithClient('asyncpg', 'asyncpg', () => {
  it('runs a parameterized query', async () => {
    const code = [
      'import asyncio, asyncpg',
      'async def main():',
      '    conn = await asyncpg.connect()',
      '    print(await conn.fetchval("select $1::int + 1", 41))',
      '    await conn.close()',
      'asyncio.run(main())',
    ].join('\n');
    const result = await runPython(code, libpqEnv());
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('42');
  });
});

describeWithClient('pgjdbc', 'pgJDBC', () => {
  it('runs a prepared statement', async () => {
    const source = `
import java.sql.*;
public class Smoke {
  public static void main(String[] args) throws Exception {
    try (Connection c = DriverManager.getConnection(args[0], args[1], args[2]);
         PreparedStatement s = c.prepareStatement("select ? + 1")) {
      s.setInt(1, 41);
      try (ResultSet r = s.executeQuery()) { r.next(); System.out.println(r.getInt(1)); }
    }
  }
}`;
    const url = `jdbc:postgresql://${server.host}:${server.port}/postgres`;
    const result = await runJava(source, [url, USER, PASSWORD]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('42');
  });
});

describeWithClient('pgx', 'pgx v4', () => {
  it('runs a query', async () => {
    const source = `package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v4"
)

func main() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "select $1::int + 1", 41).Scan(&n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(n)
}
`;
    const result = await runGo(source, { DATABASE_URL: server.url(USER, PASSWORD) }, { timeoutMs: 180_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('42');
  }, 240_000);
});

describeWithClient('node-pg', 'node-postgres', () => {
  it('runs a parameterized query', async () => {
    const client = new pg.Client({ connectionString: server.url(USER, PASSWORD) });
    await client.connect();
    try {
      const result = await client.query<{ n: number }>('select $1::int + 1 as n', [41]);
      expect(result.rows[0]?.n).toBe(42);
    } finally {
      await client.end();
    }
  });
});

describeWithClient('postgres.js', 'postgres.js', () => {
  it('runs a tagged query', async () => {
    const sql = postgres(server.url(USER, PASSWORD), { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ n: number }[]>`select ${41}::int + 1 as n`;
      expect(rows[0]?.n).toBe(42);
    } finally {
      await sql.end();
    }
  });
});
