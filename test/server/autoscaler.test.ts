// The fleet's pure rules (autoscaler, rollout pace, restart backoff, worker states) and the queue statistics they
// read, the latter from a real SQLite store.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { desiredServing, idleWorkersToStop, queueCountCap, type ScalingSpec } from "../../server/policy/autoscaler";
import { restartDelayMs } from "../../server/policy/backoff";
import { pickRetirees, rolloutBatchSize } from "../../server/policy/rollout";
import type { RuntimeWorker } from "../../server/policy/worker-model";
import { workerState, type RuntimeCondition } from "../../server/policy/worker-state";
import { fleetWorkerFacts } from "../../server/runtimes/docker/fleet";
import { BerthDatabase } from "../../server/store/database";
import { SqliteJobStore } from "../../server/store/jobs";

const spec = (s: Partial<ScalingSpec> = {}): ScalingSpec => ({
  workersMin: 0,
  workersMax: 3,
  scalerType: "QUEUE_DELAY",
  scalerValue: 4,
  idleTimeout: 5,
  ...s,
});
const none = { initializing: 0, idle: 0, running: 0 };
const queue = (q: Partial<{ queued: number; delayed: number; inProgress: number }> = {}) => ({ queued: 0, delayed: 0, inProgress: 0, ...q });

describe("desiredServing", () => {
  test("workersMin is always kept, workersMax never passed", () => {
    assert.equal(desiredServing(spec({ workersMin: 2 }), queue(), none), 2);
    assert.equal(desiredServing(spec({ scalerType: "REQUEST_COUNT", scalerValue: 1 }), queue({ queued: 50 }), none), 3);
  });
  test("REQUEST_COUNT: ceil((queued + in progress) / scalerValue)", () => {
    const s = spec({ scalerType: "REQUEST_COUNT", scalerValue: 2, workersMax: 10 });
    assert.equal(desiredServing(s, queue({ queued: 3, inProgress: 2 }), { ...none, running: 2 }), 3);
    assert.equal(desiredServing(s, queue({ queued: 1 }), none), 1);
  });
  test("QUEUE_DELAY: a worker per delayed job that no idle or starting worker will take", () => {
    const s = spec({ workersMax: 10 });
    assert.equal(desiredServing(s, queue({ queued: 5, delayed: 3, inProgress: 2 }), { ...none, running: 2 }), 5);
    assert.equal(desiredServing(s, queue({ queued: 5, delayed: 3 }), { initializing: 1, idle: 1, running: 2 }), 5);
    assert.equal(desiredServing(s, queue({ queued: 2, delayed: 0 }), { ...none, running: 2 }), 2, "not delayed yet: no scale-up");
  });
  test("a queued job on an endpoint with no worker starts one at once, whatever the scaler", () => {
    assert.equal(desiredServing(spec(), queue({ queued: 1 }), none), 1);
    assert.equal(desiredServing(spec({ scalerType: "REQUEST_COUNT", scalerValue: 100 }), queue({ queued: 1 }), none), 1);
  });
  test("never fewer than are serving: scaling down is the idle timeout's job", () => {
    assert.equal(desiredServing(spec(), queue(), { ...none, idle: 3 }), 3);
  });
});

test("queued and delayed jobs counted up to queueCountCap decide as counting them all does", () => {
  const now = 100_000;
  for (const scalerType of ["QUEUE_DELAY", "REQUEST_COUNT"] as const) {
    for (const scalerValue of [0.5, 1, 3]) {
      for (const workersMax of [0, 1, 4]) {
        const s = spec({ scalerType, scalerValue, workersMax, workersMin: Math.min(1, workersMax) });
        for (const [initializing, idle, running] of [[0, 0, 0], [1, 2, 0], [0, 3, 3], [2, 2, 2]] as const) {
          const workers = initializing + idle + running;
          const cap = queueCountCap(s, workers);
          const idleFlex = Array.from({ length: idle }, (_, i) => ({ id: `w${i}`, idleSince: now - 60_000 - i }));
          for (const queued of [0, 1, cap - 1, cap, cap + 1, 3 * cap + 7]) {
            for (const delayed of [0, Math.floor(queued / 2), queued]) {
              const exact = queue({ queued, delayed, inProgress: running });
              const capped = queue({ queued: Math.min(queued, cap), delayed: Math.min(delayed, cap), inProgress: running });
              const what = JSON.stringify({ s, initializing, idle, running, queued, delayed, cap });
              assert.equal(desiredServing(s, capped, { initializing, idle, running }), desiredServing(s, exact, { initializing, idle, running }), what);
              assert.deepEqual(idleWorkersToStop(s, capped, workers, idleFlex, now), idleWorkersToStop(s, exact, workers, idleFlex, now), what);
            }
          }
        }
      }
    }
  }
});

describe("idleWorkersToStop", () => {
  const now = 100_000;
  test("flex workers idle past idleTimeout go, longest idle first, down to the floor", () => {
    const idle = [
      { id: "a", idleSince: now - 6_000 },
      { id: "b", idleSince: now - 9_000 },
      { id: "c", idleSince: now - 1_000 },
    ];
    const empty = { queued: 0, inProgress: 0 };
    assert.deepEqual(idleWorkersToStop(spec(), empty, 3, idle, now), ["b", "a"]);
    const perJob = spec({ scalerType: "REQUEST_COUNT", scalerValue: 1 });
    assert.deepEqual(idleWorkersToStop(perJob, { queued: 1, inProgress: 1 }, 3, idle, now), ["b"], "REQUEST_COUNT's demand is a floor");
    assert.deepEqual(idleWorkersToStop(spec(), { queued: 1, inProgress: 1 }, 3, idle, now), ["b", "a"], "QUEUE_DELAY's jobs are no floor");
    assert.deepEqual(idleWorkersToStop(spec({ workersMin: 3 }), empty, 3, idle, now), [], "workersMin is a floor");
  });
});

describe("rollout pace", () => {
  test("10% of workersMax at a time, at least one", () => {
    assert.equal(rolloutBatchSize(3), 1);
    assert.equal(rolloutBatchSize(10), 1);
    assert.equal(rolloutBatchSize(11), 2);
    assert.equal(rolloutBatchSize(100), 10);
  });
  test("idle workers first, and never more than the batch retiring at once", () => {
    const outdated = [
      { id: "busy", jobs: 1, retiring: false },
      { id: "idle", jobs: 0, retiring: false },
      { id: "going", jobs: 1, retiring: true },
    ];
    assert.deepEqual(pickRetirees(outdated, 1), []);
    assert.deepEqual(pickRetirees(outdated, 2), ["idle"]);
    assert.deepEqual(pickRetirees(outdated, 3), ["idle", "busy"]);
  });
  test("a new-revision worker still initializing counts as a replacement in flight", () => {
    const outdated = [
      { id: "a", jobs: 0, retiring: false },
      { id: "b", jobs: 0, retiring: false },
    ];
    assert.deepEqual(pickRetirees(outdated, 1, 1), []);
    assert.deepEqual(pickRetirees(outdated, 2, 1), ["a"]);
  });
});

test("restart backoff doubles from the base up to the cap", () => {
  assert.deepEqual([0, 1, 2, 3, 10, 50].map((n) => restartDelayMs(n, 1000, 60_000)), [1000, 2000, 4000, 8000, 60_000, 60_000]);
});

describe("workerState", () => {
  const worker = (w: Partial<RuntimeWorker> = {}): RuntimeWorker => ({
    id: "w",
    endpointId: "e",
    revision: 2,
    type: "flex",
    phase: "up",
    gpus: [],
    restarts: 0,
    createdAt: 1000,
    startedAt: 2000,
    phaseSince: 2000,
    ...w,
  });
  test("from the control plane's phase and the worker's own calls", () => {
    assert.equal(workerState(fleetWorkerFacts(worker({ phase: "failed" })), { currentRevision: 2, jobs: 0 }), "Unhealthy");
    assert.equal(workerState(fleetWorkerFacts(worker({ revision: 1 })), { currentRevision: 2, lastSeenAt: 3000, jobs: 1 }), "Outdated");
    assert.equal(workerState(fleetWorkerFacts(worker()), { currentRevision: 2, jobs: 0 }), "Initializing", "never called");
    assert.equal(workerState(fleetWorkerFacts(worker()), { currentRevision: 2, lastSeenAt: 1500, jobs: 0 }), "Initializing", "called before this start");
    assert.equal(workerState(fleetWorkerFacts(worker()), { currentRevision: 2, lastSeenAt: 3000, jobs: 1 }), "Running");
    assert.equal(workerState(fleetWorkerFacts(worker()), { currentRevision: 2, lastSeenAt: 3000, jobs: 0 }), "Idle");
    assert.equal(workerState(fleetWorkerFacts(worker({ phase: "frozen", type: "extra" })), { currentRevision: 2, jobs: 0 }), "Idle");
  });

  test("one rule over neutral facts: the runtime only says what condition its worker is in", () => {
    const facts = (condition: RuntimeCondition, revision = 2) => ({ condition, revision, startedAt: 2000 });
    const called = { currentRevision: 2, lastSeenAt: 3000, jobs: 0 };
    assert.equal(workerState(facts("failed"), called), "Unhealthy");
    assert.equal(workerState(facts("unschedulable"), called), "Throttled", "no GPU or memory free for it");
    assert.equal(workerState(facts("unschedulable", 1), called), "Throttled", "throttled before outdated: it does not run at all");
    assert.equal(workerState(facts("failed", 1), called), "Unhealthy", "unhealthy before outdated");
    assert.equal(workerState(facts("up", 1), { ...called, jobs: 1 }), "Outdated");
    assert.equal(workerState(facts("starting"), called), "Initializing");
    assert.equal(workerState(facts("frozen"), { currentRevision: 2, jobs: 0 }), "Idle", "a standby need not have called");
    assert.equal(workerState(facts("up"), { ...called, lastSeenAt: 2000 }), "Idle", "a call at the very moment it started counts");
  });

  test("a draining fleet worker is up until it goes, as a terminating pod is", () => {
    assert.deepEqual(fleetWorkerFacts(worker({ phase: "draining" })), { condition: "up", revision: 2, startedAt: 2000 });
    assert.deepEqual(fleetWorkerFacts(worker({ phase: "starting", startedAt: undefined })), { condition: "starting", revision: 2, startedAt: 1000 });
  });
});

test("queue statistics leave low-priority jobs out and count the delayed ones (real SQLite)", async () => {
  const store = new SqliteJobStore(new BerthDatabase(":memory:"));
  const job = (id: string, createdAt: number, lowPriority = false) => ({
    id,
    endpointId: "e",
    input: "{}",
    webhook: null,
    lowPriority,
    executionTimeoutMs: 60_000,
    ttlMs: 60_000,
    retentionMs: 60_000,
    createdAt,
  });
  await store.insert([job("old", 1_000), job("new", 9_000), job("old-low", 1_000, true), job("running", 500)]);
  await store.take("e", "w1", 1, 9_500);
  assert.deepEqual(await store.queueStats("e", 5_000, 100), { queued: 2, delayed: 1, inProgress: 1 });
  assert.deepEqual(await store.queueStats("e", 9_000, 1), { queued: 1, delayed: 1, inProgress: 1 }, "counted up to the cap only");
  assert.deepEqual(await store.queueStats("other", 5_000, 100), { queued: 0, delayed: 0, inProgress: 0 });
});
