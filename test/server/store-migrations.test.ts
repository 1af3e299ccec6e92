import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import postgres from "postgres";
import { BerthDatabase } from "../../server/store/database";
import { MIGRATIONS } from "../../server/store/migrations";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { postgresJobStorage } from "../../server/store/postgres/job-storage";
import { POSTGRES_MIGRATIONS } from "../../server/store/postgres/migrations";
import { SchemaTooNewError } from "../../server/store/schema-errors";
import { SqliteJobStore } from "../../server/store/jobs";
import { SqliteWorkerCallStore } from "../../server/store/worker-calls";
import { testbedEnv } from "../helpers/env";
import { freshDatabase } from "../helpers/postgres";

test("a store from before per-endpoint worker ids keeps its workers, each under its own endpoint", async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-migrate-")), "berth.db");
  const old = new Database(file);
  // The last release's schema: every migration before the one that keyed workers by endpoint.
  const before = MIGRATIONS.findIndex((sql) => sql.includes("CREATE TABLE workers_by_endpoint"));
  old.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
  for (const sql of MIGRATIONS.slice(0, before)) old.exec(sql);
  old.prepare("INSERT INTO schema_version (version) VALUES (?)").run(before);
  old.prepare(`INSERT INTO workers (id, endpoint_id, first_seen_at, last_seen_at, sdk_version, unhealthy_reason, leaving)
    VALUES ('w1', 'ep-a', 1, 2, '1.12.0', 'out of memory', 1)`).run();
  old.close();

  const database = new BerthDatabase(file);
  try {
    const workers = new SqliteWorkerCallStore(database);
    assert.deepEqual(
      { ...(await workers.get("ep-a", "w1")) },
      { endpoint_id: "ep-a", id: "w1", first_seen_at: 1, last_seen_at: 2, sdk_version: "1.12.0", unhealthy_reason: "out of memory", leaving: 1 },
    );
    // The same id on another endpoint is another worker now.
    await workers.touch("ep-b", "w1", 10);
    assert.equal((await workers.get("ep-a", "w1"))!.last_seen_at, 2);
    assert.equal((await workers.get("ep-b", "w1"))!.first_seen_at, 10);
    assert.equal((await workers.ofEndpoint("ep-a")).length, 1);
  } finally {
    database.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});

test("a SQLite store from before kept job counts counts the jobs it already has, and keeps counting", async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-migrate-")), "berth.db");
  const old = new Database(file);
  const before = MIGRATIONS.findIndex((sql) => sql.includes("CREATE TABLE job_counts"));
  old.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
  for (const sql of MIGRATIONS.slice(0, before)) old.exec(sql);
  old.prepare("INSERT INTO schema_version (version) VALUES (?)").run(before);
  const insert = old.prepare(`INSERT INTO jobs (id, endpoint_id, status, input, execution_timeout_ms, ttl_ms, retention_ms, created_at)
    VALUES (?, ?, ?, '{}', 1000, 1000, 1000, 1)`);
  for (const [id, endpoint, status] of [["a", "ep-a", "IN_QUEUE"], ["b", "ep-a", "IN_QUEUE"], ["c", "ep-a", "COMPLETED"], ["d", "ep-b", "FAILED"]]) {
    insert.run(id, endpoint, status);
  }
  old.close();

  const database = new BerthDatabase(file);
  try {
    const jobs = new SqliteJobStore(database);
    assert.deepEqual(await jobs.counts("ep-a"), { completed: 1, failed: 0, inProgress: 0, inQueue: 2, retried: 0 });
    assert.deepEqual(await jobs.counts("ep-b"), { completed: 0, failed: 1, inProgress: 0, inQueue: 0, retried: 0 });
    await jobs.take("ep-a", "w1", 1, 2);
    assert.deepEqual(await jobs.counts("ep-a"), { completed: 1, failed: 0, inProgress: 1, inQueue: 1, retried: 0 });
  } finally {
    database.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});

test("a SQLite database migrated by a newer Berth is refused, naming the file and both versions", () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-migrate-")), "berth.db");
  try {
    new BerthDatabase(file).close();
    const raw = new Database(file);
    raw.prepare("UPDATE schema_version SET version = ?").run(MIGRATIONS.length + 1);
    raw.close();
    assert.throws(
      () => new BerthDatabase(file),
      (err: Error) =>
        err instanceof SchemaTooNewError &&
        err.message.includes(file) &&
        err.message.includes(`schema version ${MIGRATIONS.length + 1}, newer than this Berth knows (${MIGRATIONS.length})`),
    );
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});

describe("PostgreSQL store: opening and migrating", () => {
  test("a fresh database is migrated once, by one of several control planes opening it at once", async () => {
    const database = await freshDatabase("migrate");
    try {
      const opened = await Promise.all([1, 2, 3].map(() => PostgresDatabase.open(database.url, { max: 2 })));
      const [row] = await opened[0]!.sql<Array<{ version: number; rows: number }>>`
        SELECT MAX(version) AS version, COUNT(*)::int AS rows FROM schema_version`;
      assert.deepEqual({ ...row }, { version: POSTGRES_MIGRATIONS.length, rows: 1 });
      await Promise.all(opened.map((db) => db.close()));
      const again = await PostgresDatabase.open(database.url);
      await again.close();
    } finally {
      await database.drop();
    }
  });

  test("a database from before kept job counts counts the jobs it already has, and keeps counting", async () => {
    const database = await freshDatabase("counts_backfill");
    try {
      const before = POSTGRES_MIGRATIONS.findIndex((sql) => sql.includes("CREATE TABLE job_counts"));
      const raw = postgres(database.url, { max: 1, onnotice: () => undefined });
      await raw.begin(async (tx) => {
        await tx`CREATE TABLE schema_version (version INTEGER NOT NULL)`;
        for (const sql of POSTGRES_MIGRATIONS.slice(0, before)) await tx.unsafe(sql);
        await tx`INSERT INTO schema_version (version) VALUES (${before})`;
        for (const [id, endpoint, status] of [["a", "ep-a", "IN_QUEUE"], ["b", "ep-a", "IN_QUEUE"], ["c", "ep-a", "COMPLETED"]]) {
          await tx`INSERT INTO jobs (id, endpoint_id, status, input, execution_timeout_ms, ttl_ms, retention_ms, created_at)
            VALUES (${id!}, ${endpoint!}, ${status!}, '{}', 1000, 1000, 1000, 1)`;
        }
      });
      await raw.end();
      const db = await PostgresDatabase.open(database.url);
      try {
        const { jobs } = postgresJobStorage(db);
        assert.deepEqual(await jobs.counts("ep-a"), { completed: 1, failed: 0, inProgress: 0, inQueue: 2, retried: 0 });
        await db.sql`UPDATE jobs SET status = 'IN_PROGRESS' WHERE id = 'a'`;
        assert.deepEqual(await jobs.counts("ep-a"), { completed: 1, failed: 0, inProgress: 1, inQueue: 1, retried: 0 });
        await jobs.housekeeping();
        assert.deepEqual(await jobs.counts("ep-a"), { completed: 1, failed: 0, inProgress: 1, inQueue: 1, retried: 0 }, "folded");
        const [{ n }] = await db.sql<[{ n: number }]>`SELECT COUNT(*)::int AS n FROM job_count_changes`;
        assert.equal(n, 0, "every change folded");
      } finally {
        await db.close();
      }
    } finally {
      await database.drop();
    }
  });

  test("a database migrated by a newer Berth is refused, naming it with its password masked", async () => {
    const database = await freshDatabase("too_new");
    try {
      const db = await PostgresDatabase.open(database.url);
      await db.sql`UPDATE schema_version SET version = ${POSTGRES_MIGRATIONS.length + 1}`;
      await db.close();
      const password = new URL(database.url).password;
      await assert.rejects(PostgresDatabase.open(database.url), (err: Error) => {
        assert.ok(err instanceof SchemaTooNewError, String(err));
        assert.match(err.message, new RegExp(`${database.name}.*schema version ${POSTGRES_MIGRATIONS.length + 1}, newer than this Berth`));
        assert.ok(!err.message.includes(password), "the password is masked");
        assert.match(err.message, /\*\*\*@127\.0\.0\.1/);
        return true;
      });
    } finally {
      await database.drop();
    }
  });

  test("a wrong password or an unreachable server fails with a message naming the database, password masked", async () => {
    const url = new URL(testbedEnv("BERTH_TEST_DATABASE_URL"));
    const wrong = new URL(url);
    wrong.password = "definitely-not-it";
    await assert.rejects(PostgresDatabase.open(wrong.toString()), (err: Error) => {
      assert.match(err.message, /^database postgres:\/\/berth:\*\*\*@127\.0\.0\.1:\d+\/berth: .*password authentication failed/);
      assert.ok(!err.message.includes("definitely-not-it"));
      return true;
    });
    const closed = new URL(url);
    closed.port = "9"; // discard: nothing listens there on this machine
    await assert.rejects(PostgresDatabase.open(closed.toString()), (err: Error) => {
      assert.match(err.message, /^database postgres:\/\/berth:\*\*\*@127\.0\.0\.1:9\/berth: .*ECONNREFUSED/);
      assert.ok(!err.message.includes(url.password));
      return true;
    });
  });
});
