import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations";

/**
 * The control plane's SQLite database, with group commit.
 *
 * Every write runs at once on the one connection, inside a transaction that stays open until the end of the
 * current turn of the event loop; then one COMMIT (one fsync, synchronous=FULL in WAL mode) makes all of
 * that turn's writes durable together. Reads on the same connection see them immediately, so the in-process
 * view is always consistent. A caller that must not reply before its write is on disk awaits `durable()`.
 */
export class BerthDatabase {
  readonly db: Database.Database;
  private commitScheduled = false;
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(file: string) {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
  }

  /** Runs `fn` inside the current group transaction, opening one if needed. */
  write<T>(fn: () => T): T {
    if (!this.db.inTransaction) this.db.exec("BEGIN IMMEDIATE");
    this.scheduleCommit();
    return fn();
  }

  /** Resolves once everything written so far is committed. */
  durable(): Promise<void> {
    if (!this.db.inTransaction) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void {
    this.commit();
    this.db.close();
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => this.commit());
  }

  private commit(): void {
    this.commitScheduled = false;
    const waiters = this.waiters;
    this.waiters = [];
    try {
      if (this.db.inTransaction) this.db.exec("COMMIT");
      for (const w of waiters) w.resolve();
    } catch (err) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      for (const w of waiters) w.reject(err as Error);
    }
  }

  private migrate(): void {
    this.db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = this.db.prepare("SELECT version FROM schema_version").get() as { version: number } | undefined;
    const current = row?.version ?? 0;
    const apply = this.db.transaction(() => {
      MIGRATIONS.slice(current).forEach((sql) => this.db.exec(sql));
      this.db.prepare("DELETE FROM schema_version").run();
      this.db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(MIGRATIONS.length);
    });
    if (current < MIGRATIONS.length) apply();
  }
}
