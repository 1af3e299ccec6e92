import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations";
import { SchemaTooNewError } from "./schema-errors";

interface DurableWaiter {
  /** The commit this caller's writes went out in. */
  commit: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The control plane's SQLite database, with group commit and an fsync that does not block the event loop.
 *
 * Every write runs at once on the one connection, inside a transaction that stays open until the end of the
 * current turn of the event loop; then one COMMIT makes all of that turn's writes visible together. Reads on
 * the same connection see them immediately, so the in-process view is always consistent.
 *
 * Durability: the database runs in WAL mode with synchronous=NORMAL, so COMMIT only writes the WAL. Berth then
 * fsyncs the WAL file itself, on libuv's thread pool, and a caller that must not reply before its write is on
 * disk awaits `durable()`, which resolves once an fsync that started after its commit has finished. That is the
 * guarantee of synchronous=FULL (the commit frame and everything before it is on disk), without holding the
 * event loop for the ~0.2 ms of each fsync; commits made while an fsync runs share the next one.
 */
export class BerthDatabase {
  readonly db: Database.Database;
  private readonly walFd: number | undefined;
  private commitScheduled = false;
  private commits = 0;
  private synced = 0;
  private syncing = false;
  private pendingCommit: DurableWaiter[] = [];
  private pendingSync: DurableWaiter[] = [];

  constructor(private readonly file: string) {
    const onDisk = file !== ":memory:";
    if (onDisk) fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
    if (onDisk) {
      // SQLite keeps the WAL (same inode, truncated at most) while a connection is open, so one descriptor serves
      // for the database's lifetime. The directory is synced once so the WAL's own entry survives a power cut.
      this.walFd = fs.openSync(`${file}-wal`, "r+");
      const dirFd = fs.openSync(path.dirname(file), "r");
      fs.fsyncSync(dirFd);
      fs.closeSync(dirFd);
    }
  }

  /** Runs `fn` inside the current group transaction, opening one if needed. */
  write<T>(fn: () => T): T {
    if (!this.db.inTransaction) this.db.exec("BEGIN IMMEDIATE");
    this.scheduleCommit();
    return fn();
  }

  /** Resolves once everything written so far is committed and on disk. */
  durable(): Promise<void> {
    if (this.db.inTransaction) {
      return new Promise((resolve, reject) => this.pendingCommit.push({ commit: this.commits + 1, resolve, reject }));
    }
    if (this.synced >= this.commits) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pendingSync.push({ commit: this.commits, resolve, reject });
      this.startSync();
    });
  }

  close(): void {
    this.commit();
    if (this.walFd !== undefined) {
      fs.fsyncSync(this.walFd);
      fs.closeSync(this.walFd);
    }
    for (const w of this.pendingSync.splice(0)) w.resolve();
    this.db.close();
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => this.commit());
  }

  private commit(): void {
    this.commitScheduled = false;
    const waiters = this.pendingCommit.splice(0);
    if (!this.db.inTransaction) return waiters.forEach((w) => w.resolve());
    try {
      this.db.exec("COMMIT");
      this.commits++;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      return waiters.forEach((w) => w.reject(err as Error));
    }
    this.pendingSync.push(...waiters);
    this.startSync();
  }

  /** One fsync at a time; each covers every commit made before it started. */
  private startSync(): void {
    if (this.syncing || this.pendingSync.length === 0) return;
    if (this.walFd === undefined) {
      this.synced = this.commits;
      return this.pendingSync.splice(0).forEach((w) => w.resolve());
    }
    this.syncing = true;
    const covered = this.commits;
    fs.fsync(this.walFd, (err) => {
      this.syncing = false;
      if (!err) this.synced = covered;
      const settled = this.pendingSync.filter((w) => w.commit <= covered);
      this.pendingSync = this.pendingSync.filter((w) => w.commit > covered);
      for (const w of settled) err ? w.reject(err) : w.resolve();
      this.startSync();
    });
  }

  private migrate(): void {
    this.db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = this.db.prepare("SELECT version FROM schema_version").get() as { version: number } | undefined;
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      this.db.close();
      throw new SchemaTooNewError(this.file, current, MIGRATIONS.length);
    }
    const apply = this.db.transaction(() => {
      MIGRATIONS.slice(current).forEach((sql) => this.db.exec(sql));
      this.db.prepare("DELETE FROM schema_version").run();
      this.db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(MIGRATIONS.length);
    });
    if (current < MIGRATIONS.length) apply();
  }
}
