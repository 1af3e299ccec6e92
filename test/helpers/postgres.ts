import crypto from "node:crypto";
import postgres from "postgres";
import { BIGINT_AS_NUMBER } from "../../server/store/postgres/database";
import { testbedEnv } from "./env";

/** A database of its own on the test bed's PostgreSQL, dropped by `drop` (its connections ended first). */
export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new database on the test bed's PostgreSQL, or on the server `adminUrl` names (a benchmark's). */
export async function freshDatabase(label: string, adminUrl?: string): Promise<TestDatabase> {
  const admin = adminUrl ?? testbedEnv("BERTH_TEST_DATABASE_URL");
  const name = `berth_${label.replace(/[^a-z0-9]/g, "_")}_${crypto.randomBytes(4).toString("hex")}`;
  await withClient(admin, (sql) => sql.unsafe(`CREATE DATABASE ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => withClient(admin, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** `?` placeholders (as SQLite's raw SQL in tests is written) turned into PostgreSQL's `$1, $2, ...`. */
export function positional(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Rows of a raw query on a test database, as plain objects with BIGINT columns as numbers (as Berth reads them). */
export function queryDatabase(url: string, sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  return withClient(url, async (client) => [...(await client.unsafe(positional(sql), params as never[]))].map((row) => ({ ...row })));
}

/** One connection to `url` for the length of `use`, BIGINT read as Berth reads it. */
async function withClient<T>(url: string, use: (sql: postgres.Sql<{ bigint: number }>) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined, types: { bigint: BIGINT_AS_NUMBER } }) as unknown as postgres.Sql<{ bigint: number }>;
  try {
    return await use(sql);
  } finally {
    await sql.end();
  }
}
