import crypto from "node:crypto";
import postgres from "postgres";
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
  const sql = postgres(admin, { max: 1, onnotice: () => undefined });
  try {
    await sql.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await sql.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const sql = postgres(admin, { max: 1, onnotice: () => undefined });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await sql.end();
      }
    },
  };
}

/** `?` placeholders (as SQLite's raw SQL in tests is written) turned into PostgreSQL's `$1, $2, ...`. */
export function positional(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Rows of a raw query on a test database, as plain objects with BIGINT columns as numbers (as Berth reads them). */
export async function queryDatabase(url: string, sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = postgres(url, {
    max: 1,
    onnotice: () => undefined,
    types: { bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (text: string) => Number(text) } },
  });
  try {
    return [...(await client.unsafe(positional(sql), params as never[]))].map((row) => ({ ...row }));
  } finally {
    await client.end();
  }
}
