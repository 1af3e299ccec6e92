// The Docker fleet's decisions on both backends: what the fleet saves and removes, a store opened afresh on the
// same database (a new leader) reads back exactly, in order, whatever the pool did with the writes.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import type { RuntimeWorker } from "../../server/policy/worker-model";
import { BerthDatabase } from "../../server/store/database";
import { FleetWorkerStore, SqliteFleetWorkerRows, type FleetWorkerRows } from "../../server/store/fleet-workers";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { PostgresFleetWorkerRows } from "../../server/store/postgres/fleet-worker-rows";
import { freshDatabase } from "../helpers/postgres";

const worker = (id: string, more: Partial<RuntimeWorker> = {}): RuntimeWorker => ({
  id,
  endpointId: "ep",
  revision: 1,
  type: "flex",
  phase: "starting",
  gpus: [{ id: "0", typeId: "NVIDIA GeForce RTX 4090", simulated: true }],
  memoryBytes: 2 ** 33,
  restarts: 0,
  createdAt: 1_700_000_000_000 + id.charCodeAt(0),
  phaseSince: 1_700_000_000_000,
  ...more,
});

const backends: Array<{ name: string; open(t: test.TestContext): Promise<{ rows: FleetWorkerRows; reopen(): Promise<FleetWorkerRows> }> }> = [
  {
    name: "SQLite",
    async open(t) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-fleet-"));
      const databases = [new BerthDatabase(path.join(dir, "berth.db"))];
      t.after(() => {
        for (const db of databases) db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      return {
        rows: new SqliteFleetWorkerRows(databases[0]!),
        async reopen() {
          await databases[0]!.durable();
          databases.push(new BerthDatabase(path.join(dir, "berth.db")));
          return new SqliteFleetWorkerRows(databases.at(-1)!);
        },
      };
    },
  },
  {
    name: "PostgreSQL",
    async open(t) {
      const database = await freshDatabase("fleet");
      const opened = [await PostgresDatabase.open(database.url)];
      t.after(async () => {
        for (const db of opened) await db.close();
        await database.drop();
      });
      return {
        rows: new PostgresFleetWorkerRows(opened[0]!.sql),
        async reopen() {
          opened.push(await PostgresDatabase.open(database.url));
          return new PostgresFleetWorkerRows(opened.at(-1)!.sql);
        },
      };
    },
  },
];

for (const backend of backends) {
  test(`fleet workers on ${backend.name}: saved, changed and removed in order, read back the same by a new store`, async (t) => {
    const failures: Error[] = [];
    const db = await backend.open(t);
    // The store writes through without waiting; the test keeps each write to wait for them before reopening.
    const writes: Array<Promise<void>> = [];
    const rows: FleetWorkerRows = {
      load: () => db.rows.load(),
      save: (row) => (writes.push(db.rows.save(row)), writes.at(-1)!),
      remove: (id) => (writes.push(db.rows.remove(id)), writes.at(-1)!),
    };
    const store = await FleetWorkerStore.open(rows, (err) => failures.push(err));
    const a = worker("a");
    store.save(a);
    store.save(worker("b"));
    // Three writes of one worker in a row: the last must win however the pool runs them.
    store.save({ ...a, phase: "up", startedAt: 1_700_000_001_000 });
    store.save({ ...a, phase: "frozen", type: "extra", reason: "standby", startedAt: 1_700_000_001_000 });
    store.save(worker("c"));
    store.remove("b");
    assert.deepEqual(store.all().map((w) => w.id), ["a", "c"]);
    await Promise.all(writes);
    const again = await FleetWorkerStore.open(await db.reopen(), (err) => failures.push(err));
    // Absent optional fields read back as undefined: compared as JSON, which leaves both out.
    const asJson = (workers: RuntimeWorker[]) => JSON.parse(JSON.stringify(workers));
    assert.deepEqual(asJson(again.all()), asJson(store.all()));
    assert.equal(again.get("a")!.phase, "frozen");
    assert.deepEqual(failures, []);
  });
}
