// A runtime on the leading control plane times a new worker's cold start from its first call; behind a load
// balancer that call may reach another control plane. Two job services on one PostgreSQL database (two pools, two
// LISTEN connections, as two replicas have): the leader's wait ends when the worker's first call reaches the other.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JobService } from "../../server/jobs/service";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { postgresJobStorage } from "../../server/store/postgres/job-storage";
import { PostgresSignals } from "../../server/store/postgres/signals";
import { freshDatabase, type TestDatabase } from "../helpers/postgres";

const JOB_CONFIG = { maxAttempts: 3, workerLostAfterMs: 45_000, runRetentionMs: 60_000, runsyncRetentionMs: 60_000, runsyncWaitRetentionMs: 60_000 };

let db: TestDatabase;
const closers: Array<() => unknown> = [];

async function replica(): Promise<JobService> {
  const database = await PostgresDatabase.open(db.url);
  const signals = new PostgresSignals(database.sql, (err) => assert.fail(err));
  const jobs = await JobService.open(postgresJobStorage(database), JOB_CONFIG, { signals, failed: (err) => assert.fail(err) });
  closers.push(
    () => jobs.close(),
    () => signals.close(),
    () => database.close(),
  );
  return jobs;
}

before(async () => {
  db = await freshDatabase("first_call");
});
after(async () => {
  for (const close of closers) await close();
  await db.drop();
});

test("a worker's first call on a follower ends the leader's wait for it, with that call's time", async () => {
  const leader = await replica();
  const follower = await replica();
  const startedAt = Date.now();
  const firstCall = leader.firstCallAfter("ep1", "w1", startedAt);
  const calledAt = Date.now();
  assert.deepEqual(await follower.take("ep1", "w1", 1, 0), []);
  const at = await Promise.race([firstCall, new Promise<string>((resolve) => setTimeout(() => resolve("not told within 5 s"), 5000))]);
  assert.equal(typeof at, "number", String(at));
  assert.ok((at as number) >= calledAt && (at as number) <= Date.now(), `the follower's call time (${at})`);
});
