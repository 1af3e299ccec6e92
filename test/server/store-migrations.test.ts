import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { BerthDatabase } from "../../server/store/database";
import { MIGRATIONS } from "../../server/store/migrations";
import { SqliteWorkerCallStore } from "../../server/store/worker-calls";

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
