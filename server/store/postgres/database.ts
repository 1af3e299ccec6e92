import postgres from "postgres";
import { SchemaTooNewError } from "../schema-errors";
import { POSTGRES_MIGRATIONS } from "./migrations";

/** A connection pool whose BIGINT columns (times in ms, counts) read back as numbers, as SQLite's do. */
export type Sql = postgres.Sql<{ bigint: number }>;

/** Any two control planes migrating one database at once take turns on this advisory lock. */
const MIGRATION_LOCK = 0x6265_7274; // "bert"

/** A query's rows as a plain array (postgres.js answers an Array subclass carrying the command and count). */
export async function plain<T>(rows: Promise<T[]>): Promise<T[]> {
  return [...(await rows)];
}

/** BIGINT (times in ms, counts) read back as numbers, as SQLite's integers are: every value Berth keeps fits. */
export const BIGINT_AS_NUMBER = { to: 20, from: [20], serialize: (n: number) => String(n), parse: (text: string) => Number(text) };

/**
 * Writes that must land in the order they were made, though the pool may run two statements at once: each starts
 * once the one before it has ended, whether that one succeeded or not.
 */
export class WritesInOrder {
  private last: Promise<unknown> = Promise.resolve();

  run(write: () => PromiseLike<unknown>): Promise<void> {
    const done = this.last.catch(() => undefined).then(write);
    this.last = done;
    return done.then(() => undefined);
  }
}

/** The URL as it may be shown: its password replaced by `***`. */
export function maskedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(a database URL that does not parse)";
  }
}

/**
 * The control plane's PostgreSQL database: a pool of connections, the schema migrated at open. Every statement
 * commits on its own with synchronous_commit on (PostgreSQL's default), so a write is durable when it returns.
 */
export class PostgresDatabase {
  private constructor(
    readonly sql: Sql,
    /** For messages: the URL with its password masked. */
    readonly name: string,
  ) {}

  /** Connects, checks the server answers, and migrates; any failure names the database (password masked). */
  static async open(url: string, options: { max?: number } = {}): Promise<PostgresDatabase> {
    const name = maskedUrl(url);
    let sql: Sql;
    try {
      sql = postgres(url, {
        max: options.max ?? 10,
        connect_timeout: 10,
        onnotice: () => undefined,
        types: { bigint: BIGINT_AS_NUMBER },
      }) as unknown as Sql;
    } catch (err) {
      throw new Error(`database ${name}: ${(err as Error).message}`);
    }
    try {
      await sql`SELECT 1`;
      await migrate(sql, name);
    } catch (err) {
      await sql.end({ timeout: 0 });
      if (err instanceof SchemaTooNewError) throw err;
      throw new Error(`database ${name}: ${(err as Error).message}`);
    }
    return new PostgresDatabase(sql, name);
  }

  /** Nothing to wait for: each statement was committed (and flushed) before it returned. */
  durable(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

async function migrate(sql: Sql, name: string): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`;
    const [row] = await tx<Array<{ version: number }>>`SELECT version FROM schema_version`;
    const current = row?.version ?? 0;
    if (current > POSTGRES_MIGRATIONS.length) throw new SchemaTooNewError(name, current, POSTGRES_MIGRATIONS.length);
    if (current === POSTGRES_MIGRATIONS.length) return;
    for (const migration of POSTGRES_MIGRATIONS.slice(current)) await tx.unsafe(migration);
    await tx`DELETE FROM schema_version`;
    await tx`INSERT INTO schema_version (version) VALUES (${POSTGRES_MIGRATIONS.length})`;
  });
}
