// Which workers are held, shared by control planes on one PostgreSQL database: the leader's runtime holds and
// releases workers, and every control plane (each hands out jobs) must refuse a held worker new jobs and wake its
// long-poll when it is released. Real PostgreSQL, real LISTEN/NOTIFY, two connection pools as two replicas have.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { HeldWorkers } from "../../server/jobs/held-workers";
import { JobService } from "../../server/jobs/service";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { PostgresHeldWorkerRows } from "../../server/store/postgres/held-worker-rows";
import { postgresJobStorage } from "../../server/store/postgres/job-storage";
import { PostgresSignals } from "../../server/store/postgres/signals";
import { eventually } from "../helpers/endpoint";
import { freshDatabase, queryDatabase, type TestDatabase } from "../helpers/postgres";

const JOB_CONFIG = { maxAttempts: 3, workerLostAfterMs: 45_000, runRetentionMs: 60_000, runsyncRetentionMs: 60_000, runsyncWaitRetentionMs: 60_000 };

/** One control plane's view of the database: its own pool and its own LISTEN connection. */
interface Replica {
  database: PostgresDatabase;
  signals: PostgresSignals;
  shared: { signals: PostgresSignals; failed: (err: Error) => void };
}

describe("held workers shared by control planes on one PostgreSQL database", () => {
  let db: TestDatabase;
  const replicas: Replica[] = [];
  const failures: Error[] = [];
  const closers: Array<() => unknown> = [];

  async function replica(): Promise<Replica> {
    const database = await PostgresDatabase.open(db.url);
    const signals = new PostgresSignals(database.sql, (err) => failures.push(err));
    const r = { database, signals, shared: { signals, failed: (err: Error) => failures.push(err) } };
    replicas.push(r);
    return r;
  }

  async function heldWorkers(r: Replica): Promise<HeldWorkers> {
    const held = await HeldWorkers.open(new PostgresHeldWorkerRows(r.database.sql), r.signals, r.shared.failed);
    closers.push(() => held.close());
    return held;
  }

  const rowsOf = async () => (await queryDatabase(db.url, "SELECT endpoint_id, worker_id FROM held_workers ORDER BY worker_id")).map((r) => `${r.endpoint_id}/${r.worker_id}`);

  before(async () => {
    db = await freshDatabase("held_workers");
  });
  after(async () => {
    for (const close of closers) await close();
    for (const r of replicas) {
      await r.signals.close();
      await r.database.close();
    }
    await db.drop();
    assert.deepEqual(failures, []);
  });

  test("a hold on the leader reaches a follower, is written for one that starts later, and a release wakes the follower's wait", async () => {
    const leader = await heldWorkers(await replica());
    const follower = await heldWorkers(await replica());
    leader.hold("ep1", "w1");
    assert.equal(leader.isHeld("ep1", "w1"), true);
    await eventually("the follower to hear of the hold", () => (follower.isHeld("ep1", "w1") ? true : undefined), 5000);
    await eventually("the hold to be written", async () => ((await rowsOf()).includes("ep1/w1") ? true : undefined), 5000);
    const later = await heldWorkers(await replica());
    assert.equal(later.isHeld("ep1", "w1"), true, "read from the table at start");
    assert.equal(later.isHeld("ep1", "w2"), false);

    const released = follower.waitForRelease("ep1", "w1", 10_000);
    const started = performance.now();
    leader.release("ep1", "w1");
    assert.equal(await released, true, "woken by the release, not by its deadline");
    assert.ok(performance.now() - started < 5000);
    await eventually("the later one to hear of the release", () => (later.isHeld("ep1", "w1") ? undefined : true), 5000);
    await eventually("the release to be written", async () => ((await rowsOf()).includes("ep1/w1") ? undefined : true), 5000);
  });

  test("a follower cut off from the signals reads the held workers again once it hears them again", async () => {
    const follower = await heldWorkers(await replica());
    assert.equal(follower.isHeld("ep2", "w9"), false);
    // A hold whose signal nobody heard (written while the follower's LISTEN connection was down).
    await queryDatabase(db.url, "INSERT INTO held_workers (endpoint_id, worker_id) VALUES ('ep2', 'w9')");
    const [cut] = await queryDatabase(
      db.url,
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'listen%' AND pid <> pg_backend_pid()",
    );
    assert.ok(Number(cut!.n) >= 1, "a LISTEN connection was cut");
    await eventually("the follower to read the held workers again after listening again", () => (follower.isHeld("ep2", "w9") ? true : undefined), 10_000);
  });

  test("a follower's job service hands a held worker no job, and hands it the job as soon as the leader releases it", async () => {
    const leaderSide = await replica();
    const leader = await JobService.open(postgresJobStorage(leaderSide.database), JOB_CONFIG, leaderSide.shared);
    closers.push(() => leader.close());
    leader.hold("ep3", "w1");
    await eventually("the hold to be written", async () => ((await rowsOf()).includes("ep3/w1") ? true : undefined), 5000);
    const followerSide = await replica();
    const follower = await JobService.open(postgresJobStorage(followerSide.database), JOB_CONFIG, followerSide.shared);
    closers.push(() => follower.close());
    const job = await follower.submit("ep3", { input: { n: 1 } }, "run");
    assert.deepEqual(await follower.take("ep3", "w1", 1, 0), [], "a held worker got a job on the follower");
    const taking = follower.take("ep3", "w1", 1, 10_000);
    const started = performance.now();
    leader.release("ep3", "w1");
    const taken = await taking;
    assert.deepEqual(taken.map((j) => j.id), [job.id]);
    assert.ok(performance.now() - started < 5000, "woken by the release, not by its deadline");
  });
});
