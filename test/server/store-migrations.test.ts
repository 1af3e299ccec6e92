import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import { BerthDatabase } from "../../server/store/database";
import { MIGRATIONS } from "../../server/store/migrations";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { POSTGRES_MIGRATIONS } from "../../server/store/postgres/migrations";
import { SchemaTooNewError } from "../../server/store/schema-errors";
import { SqliteWorkerCallStore } from "../../server/store/worker-calls";
import { testbedEnv } from "../helpers/env";
import { freshDatabase } from "../helpers/postgres";

test("a store from before per-endpoint worker ids keeps its workers, each under its own endpoint", async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-migrate-")), "berth.db");
  const old = new Database(file);
  // The last release's schema: every migration before the one that keyed workers by endpoint.
  const before = MIGRATIONS.length - 1;
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
