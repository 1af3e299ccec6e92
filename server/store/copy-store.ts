import fs from "node:fs";
import path from "node:path";
import { BerthDatabase } from "./database";
import { PostgresDatabase, type Sql } from "./postgres/database";

/** Every table a store keeps, parents before the rows that refer to them. */
const TABLES = [
  "templates",
  "network_volumes",
  "endpoints",
  "endpoint_revisions",
  "jobs",
  "job_stream",
  "job_attempts",
  "job_progress",
  "workers",
  "runtime_workers",
  "usage_runs",
  "api_keys",
  "audit_log",
] as const;

/** Rows per INSERT: well under PostgreSQL's 65535 parameters for the widest table (20 columns). */
const BATCH = 1000;

/** What SQLite's control plane keeps as files in its data directory and PostgreSQL's in its settings table. */
const SETTINGS = ["secret", "control-plane-id"];

export interface CopyReport {
  /** The target, its password masked. */
  to: string;
  /** Rows copied per table, each checked against the source's count; `settings` from the data directory's files. */
  rows: Record<(typeof TABLES)[number] | "settings", number>;
}

/**
 * Copies an installation's SQLite store (the data directory of `berth server`) into an empty PostgreSQL database,
 * in one transaction: the target is migrated first, refused if any of its tables has a row, and committed only
 * when every table's count matches the source's. The data directory's worker-key secret and runtime id go into the
 * settings table, so the workers' keys stay valid and the workers already running stay the control plane's.
 * Secret env values are copied as they are stored, encrypted: the control planes on PostgreSQL need the data
 * directory's secrets.key (`--secrets-key-file`), which stays a file, apart from the database.
 */
export async function copyStore(fromDataDir: string, toUrl: string): Promise<CopyReport> {
  const file = path.join(fromDataDir, "berth.db");
  if (!fs.existsSync(file)) throw new Error(`--from ${fromDataDir}: no Berth store there (no berth.db)`);
  const source = new BerthDatabase(file);
  try {
    const target = await PostgresDatabase.open(toUrl);
    try {
      const rows = await target.sql.begin(async (tx) => {
        await refuseNonEmpty(tx as unknown as Sql, target.name);
        const copied = {} as CopyReport["rows"];
        for (const table of TABLES) {
          // Jobs in their SQLite order, so that the queue's order within a millisecond (seq) is kept.
          const all = source.db.prepare(`SELECT * FROM ${table}${table === "jobs" ? " ORDER BY rowid" : ""}`).all() as Array<Record<string, unknown>>;
          for (let i = 0; i < all.length; i += BATCH) await tx`INSERT INTO ${tx(table)} ${tx(all.slice(i, i + BATCH))}`;
          const [{ n }] = (await tx.unsafe(`SELECT COUNT(*)::int AS n FROM ${table}`)) as unknown as [{ n: number }];
          if (n !== all.length) throw new Error(`${table}: copied ${n} rows of ${all.length}; nothing was committed`);
          copied[table] = n;
        }
        // The audit log's and progress updates' numbers came along; their sequences go on after them.
        await tx`SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1, false)`;
        await tx`SELECT setval(pg_get_serial_sequence('job_progress', 'seq'), COALESCE((SELECT MAX(seq) FROM job_progress), 0) + 1, false)`;
        const settings = SETTINGS.filter((name) => fs.existsSync(path.join(fromDataDir, name)));
        for (const name of settings) {
          await tx`INSERT INTO settings (name, value) VALUES (${name}, ${fs.readFileSync(path.join(fromDataDir, name), "utf8").trim()})`;
        }
        copied.settings = settings.length;
        return copied;
      });
      return { to: target.name, rows };
    } finally {
      await target.close();
    }
  } finally {
    source.close();
  }
}

async function refuseNonEmpty(sql: Sql, name: string): Promise<void> {
  for (const table of [...TABLES, "settings"]) {
    const rows = await sql.unsafe(`SELECT 1 FROM ${table} LIMIT 1`);
    if (rows.length > 0) throw new Error(`--to ${name}: the database is not empty (${table} has rows); copy only into a new database`);
  }
}
