// What a job's timeline reads, in both stores: each run recorded by the change that ends it, progress updates and
// stream chunks with their times, all of it gone with the job; and stores from before timelines, migrated.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import postgres from "postgres";
import type { JobStorage, NewJob } from "../../server/jobs/stores";
import { BerthDatabase } from "../../server/store/database";
import { sqliteJobStorage } from "../../server/store/jobs";
import { MIGRATIONS } from "../../server/store/migrations";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { postgresJobStorage } from "../../server/store/postgres/job-storage";
import { POSTGRES_MIGRATIONS } from "../../server/store/postgres/migrations";
import { STORES, type StoreKind } from "../helpers/control-plane";
import { freshDatabase } from "../helpers/postgres";

const EP = "ep-timeline";

/** A store of the kind, fresh, with a raw count of a job's rows in a table; closed and removed after the suite. */
async function openStorage(kind: StoreKind, cleanups: Array<() => Promise<unknown>>) {
  if (kind === "sqlite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-timeline-"));
    const database = new BerthDatabase(path.join(dir, "berth.db"));
    cleanups.push(async () => (database.close(), fs.rmSync(dir, { recursive: true, force: true })));
    const rows = async (table: string, jobId: string) =>
      (database.db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE job_id = ?`).get(jobId) as { n: number }).n;
    return { storage: sqliteJobStorage(database), rows };
  }
  const target = await freshDatabase("timeline");
  const database = await PostgresDatabase.open(target.url);
  cleanups.push(async () => (await database.close(), await target.drop()));
  const rows = async (table: string, jobId: string) =>
    Number((await database.sql.unsafe(`SELECT COUNT(*) AS n FROM ${table} WHERE job_id = $1`, [jobId]))[0]!.n);
  return { storage: postgresJobStorage(database), rows };
}

const job = (id: string, createdAt: number): NewJob => ({
  id,
  endpointId: EP,
  input: "{}",
  webhook: null,
  lowPriority: false,
  executionTimeoutMs: 600_000,
  ttlMs: 86_400_000,
  retentionMs: 1000,
  createdAt,
});

for (const store of STORES) {
  describe(`job timeline in the store (${store})`, () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });
    let storage: JobStorage;
    let rows: (table: string, jobId: string) => Promise<number>;

    test("each run is recorded by what ends it: requeued, failed, and after a retry cancelled", async () => {
      ({ storage, rows } = await openStorage(store, cleanups));
      const { jobs, calls } = storage;
      await jobs.insert([job("j1", 900)]);
      assert.equal((await calls.take(EP, "w1", 1, 1000)).length, 1);
      assert.equal(await jobs.progress(EP, "j1", "w1", '{"p":1}', 1100), true);
      assert.equal(await jobs.progress(EP, "j1", "w2", '{"p":"not its job"}', 1150), false);
      await jobs.appendChunk("j1", '"c1"', 1200);
      assert.equal((await jobs.requeue("j1", "worker w1 lost: no call for over 3000 ms", 1300))!.status, "IN_QUEUE");
      assert.equal((await calls.take(EP, "w2", 1, 1400)).length, 1);
      const error = JSON.stringify({ error_type: "<class 'ValueError'>", error_message: "boom" });
      assert.equal((await calls.finish(EP, "j1", "w2", "FAILED", null, error, 1500)).finished!.status, "FAILED");

      let history = await jobs.history("j1", 10, 100);
      assert.deepEqual(history.attempts.map((a) => ({ ...a })), [
        { job_id: "j1", retry: 0, attempt: 1, worker_id: "w1", taken_at: 1000, ended_at: 1300, outcome: "requeued", reason: "worker w1 lost: no call for over 3000 ms" },
        { job_id: "j1", retry: 0, attempt: 2, worker_id: "w2", taken_at: 1400, ended_at: 1500, outcome: "failed", reason: error },
      ]);
      assert.deepEqual(history.progress, [{ at: 1100, preview: '{"p":1}', bytes: 7 }]);
      assert.equal(history.progressCount, 1);
      assert.deepEqual(history.chunks, [{ at: 1200, preview: '"c1"', bytes: 4 }]);
      assert.equal(history.chunkCount, 1);

      // A retry keeps the runs before it; the next run counts from 1 again within its retry.
      assert.equal((await jobs.retry(EP, "j1"))!.status, "IN_QUEUE");
      await calls.take(EP, "w3", 1, 1600);
      assert.equal((await jobs.end("j1", "CANCELLED", null, 1700))!.status, "CANCELLED");
      assert.equal(await jobs.end("j1", "TIMED_OUT", "too late", 1800), undefined, "an ended job ends once, and so does its run");
      history = await jobs.history("j1", 10, 100);
      assert.deepEqual(
        history.attempts.map((a) => [a.retry, a.attempt, a.worker_id, a.outcome, a.reason]),
        [[0, 1, "w1", "requeued", "worker w1 lost: no call for over 3000 ms"], [0, 2, "w2", "failed", error], [1, 1, "w3", "cancelled", null]],
      );
    });

    test("a job that never ran has no run to record; a timeout records the one in progress", async () => {
      const { jobs, calls } = storage;
      await jobs.insert([job("slow", 2000)]);
      await calls.take(EP, "w4", 1, 2300);
      await jobs.insert([job("queued", 2000)]);
      assert.equal((await jobs.end("queued", "CANCELLED", null, 2200))!.status, "CANCELLED");
      assert.deepEqual((await jobs.history("queued", 10, 100)).attempts, []);
      await jobs.end("slow", "TIMED_OUT", "execution timeout of 10 ms exceeded", 2400);
      assert.deepEqual(
        (await jobs.history("slow", 10, 100)).attempts.map((a) => [a.worker_id, a.taken_at, a.ended_at, a.outcome, a.reason]),
        [["w4", 2300, 2400, "timed_out", "execution timeout of 10 ms exceeded"]],
      );
    });

    test("events are read up to a limit, each cut to a preview, with their whole sizes and counts", async () => {
      const { jobs, calls } = storage;
      await jobs.insert([job("chatty", 3000)]);
      await calls.take(EP, "w5", 1, 3000);
      const big = JSON.stringify("é".repeat(500));
      for (let i = 0; i < 5; i++) await jobs.appendChunk("chatty", i === 1 ? big : JSON.stringify(i), 3001 + i);
      await jobs.progress(EP, "chatty", "w5", big, 3010);
      const history = await jobs.history("chatty", 3, 20);
      assert.equal(history.chunkCount, 5);
      assert.deepEqual(history.chunks.map((c) => c.at), [3001, 3002, 3003], "the first ones, oldest first");
      assert.deepEqual(history.chunks[1], { at: 3002, preview: big.slice(0, 20), bytes: Buffer.byteLength(big) });
      assert.deepEqual(history.progress, [{ at: 3010, preview: big.slice(0, 20), bytes: 1002 }]);
    });

    test("a job's runs, progress and chunks go with it: expiry, a purged queue, a deleted endpoint", async () => {
      const { jobs, calls } = storage;
      // j1 (ended at 1700, retained 1 s) expires; "chatty" runs on; "slow" ended.
      const expired = await jobs.expire(1_000_000, 1000);
      assert.ok(expired.some((j) => j.id === "j1"));
      for (const table of ["job_attempts", "job_progress", "job_stream"]) assert.equal(await rows(table, "j1"), 0, `${table} of an expired job`);
      assert.deepEqual(await jobs.history("j1", 10, 10), { attempts: [], progress: [], progressCount: 0, chunks: [], chunkCount: 0 });

      await jobs.insert([job("requeued", 4000)]);
      await calls.take(EP, "w6", 1, 4000);
      await jobs.requeue("requeued", "worker w6 reported unhealthy", 4100);
      assert.equal(await rows("job_attempts", "requeued"), 1);
      assert.equal(await jobs.purgeQueue(EP), 1);
      assert.equal(await rows("job_attempts", "requeued"), 0, "a purged job's runs");

      assert.ok(await rows("job_progress", "chatty"));
      await jobs.deleteOfEndpoint(EP);
      for (const table of ["job_progress", "job_stream"]) assert.equal(await rows(table, "chatty"), 0, `${table} of a deleted endpoint's job`);
    });
  });
}


/** A job stored before timelines, as either store has it after the upgrade: its old chunk without a time, new records with theirs. */
async function recordsAfterUpgrade({ jobs, calls }: { jobs: JobStorage["jobs"]; calls: JobStorage["calls"] }): Promise<void> {
  await jobs.appendChunk("old", '"after"', 5);
  await calls.finish(EP, "old", "w1", "COMPLETED", "{}", null, 6);
  const history = await jobs.history("old", 10, 100);
  assert.deepEqual(history.chunks, [{ at: null, preview: '"before"', bytes: 8 }, { at: 5, preview: '"after"', bytes: 7 }]);
  assert.deepEqual(history.attempts.map((a) => [a.worker_id, a.taken_at, a.ended_at, a.outcome]), [["w1", 2, 6, "completed"]]);
}

test("a SQLite store from before timelines keeps its jobs and chunks (without times), and records from then on", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-migrate-"));
  const file = path.join(dir, "berth.db");
  try {
    const before = MIGRATIONS.findIndex((sql) => sql.includes("CREATE TABLE job_attempts"));
    const old = new Database(file);
    old.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
    for (const sql of MIGRATIONS.slice(0, before)) old.exec(sql);
    old.prepare("INSERT INTO schema_version (version) VALUES (?)").run(before);
    old.prepare(`INSERT INTO jobs (id, endpoint_id, status, input, execution_timeout_ms, ttl_ms, retention_ms, created_at, started_at, worker_id, attempts)
      VALUES ('old', ?, 'IN_PROGRESS', '{}', 600000, 600000, 600000, 1, 2, 'w1', 1)`).run(EP);
    old.prepare("INSERT INTO job_stream (job_id, seq, output) VALUES ('old', 1, '\"before\"')").run();
    old.close();

    const database = new BerthDatabase(file);
    try {
      await recordsAfterUpgrade(sqliteJobStorage(database));
    } finally {
      database.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a PostgreSQL database from before timelines keeps its chunks (without times), and records from then on", async () => {
  const target = await freshDatabase("timeline_migrate");
  try {
    const before = POSTGRES_MIGRATIONS.findIndex((sql) => sql.includes("CREATE TABLE job_attempts"));
    const raw = postgres(target.url, { max: 1, onnotice: () => undefined });
    await raw.begin(async (tx) => {
      await tx`CREATE TABLE schema_version (version INTEGER NOT NULL)`;
      for (const sql of POSTGRES_MIGRATIONS.slice(0, before)) await tx.unsafe(sql);
      await tx`INSERT INTO schema_version (version) VALUES (${before})`;
      await tx`INSERT INTO jobs (id, endpoint_id, status, input, execution_timeout_ms, ttl_ms, retention_ms, created_at, started_at, worker_id, attempts)
        VALUES ('old', ${EP}, 'IN_PROGRESS', '{}', 600000, 600000, 600000, 1, 2, 'w1', 1)`;
      await tx`INSERT INTO job_stream (job_id, seq, output) VALUES ('old', 1, '"before"')`;
    });
    await raw.end();
    const database = await PostgresDatabase.open(target.url);
    try {
      await recordsAfterUpgrade(postgresJobStorage(database));
    } finally {
      await database.close();
    }
  } finally {
    await target.drop();
  }
});
