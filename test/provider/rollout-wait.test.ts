// The provider's waiters on a rollout and on a drain, against scripted admin API answers and a fake clock: each
// rule (when a rollout counts as done, halted, or late) is checked without a control plane and without waiting.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { test, type TestContext } from "node:test";
import type { Clock } from "../../provider/clock";
import { waitForNoWorkers, waitForRollout } from "../../provider/rollout-wait";

type RolloutState = "done" | "rolling" | "halted";

interface View {
  revision: number;
  workers: Array<{ revision: number; state: string }>;
  rollout: { revision: number; state: RolloutState; outdated: number; batchSize: number; reason?: string };
}

/** A clock whose sleeps only move its own time forward, recording each one. */
function fakeClock(): Clock & { slept: number[] } {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}

/**
 * The admin API's answers to GET /endpoints/{id}/workers, one per read; the last one repeats, as a control plane
 * that stopped moving would answer. Records the paths read.
 */
function scriptedApi(views: Array<View | undefined>) {
  const paths: string[] = [];
  let i = 0;
  return {
    paths,
    get: async <T>(path: string) => {
      paths.push(path);
      const view = views[Math.min(i++, views.length - 1)];
      return view as T | undefined;
    },
  };
}

/** An endpoint at `revision` with workers of the given revisions (all running) and the rollout as reported. */
function view(revision: number, workerRevisions: number[], rollout: Partial<View["rollout"]> = {}): View {
  const outdated = workerRevisions.filter((r) => r < revision).length;
  return {
    revision,
    workers: workerRevisions.map((r) => ({ revision: r, state: "running" })),
    rollout: { revision, state: outdated > 0 ? "rolling" : "done", outdated, batchSize: 1, ...rollout },
  };
}

/** What the waiter printed as progress (the provider host shows it as diagnostics). */
function capturedLog(t: TestContext): () => string[] {
  const log = t.mock.method(console, "log", () => {});
  return () => log.mock.calls.map((call) => String(call.arguments[0]));
}

test("a rollout already done returns on the first read, without sleeping or printing", async (t) => {
  const printed = capturedLog(t);
  const api = scriptedApi([view(3, [3, 3])]);
  const clock = fakeClock();
  await waitForRollout(api, "ep1", 3, 60, clock);
  assert.deepEqual(api.paths, ["/endpoints/ep1/workers"]);
  assert.deepEqual(clock.slept, []);
  assert.deepEqual(printed(), []);
});

test("progress is printed per batch as workers are replaced, then the rollout's end", async (t) => {
  const printed = capturedLog(t);
  const api = scriptedApi([
    view(2, [1, 1, 1, 1], { batchSize: 2 }),
    view(2, [1, 1, 1, 1], { batchSize: 2 }),
    view(2, [2, 2, 1, 1], { batchSize: 2 }),
    view(2, [2, 2, 2, 2], { batchSize: 2 }),
  ]);
  const clock = fakeClock();
  await waitForRollout(api, "ep1", 2, 60, clock);
  assert.equal(api.paths.length, 4);
  assert.deepEqual(clock.slept, [500, 500, 500]);
  // An unchanged state is not printed twice.
  assert.deepEqual(printed(), [
    "endpoint ep1: rolling to revision 2: batch 1 of 2, 0 of 4 workers replaced",
    "endpoint ep1: rolling to revision 2: batch 2 of 2, 2 of 4 workers replaced",
    "endpoint ep1: rollout to revision 2 done, 4 workers replaced",
  ]);
});

test("outdated workers are counted from the workers themselves, not from the rollout's own count", async (t) => {
  capturedLog(t);
  // The control plane reports the new revision's rollout only from its next pass on: until then its rollout
  // may still say "done" for the old revision, or say done while an old worker is still listed.
  const api = scriptedApi([
    view(2, [1], { revision: 1, state: "done", outdated: 0 }),
    view(2, [1], { state: "done", outdated: 0 }),
    view(2, [2]),
  ]);
  const clock = fakeClock();
  await waitForRollout(api, "ep1", 2, 60, clock);
  assert.equal(api.paths.length, 3);
});

test("a halted rollout fails with the control plane's reason", async (t) => {
  capturedLog(t);
  const reason = 'image "nope:1" could not be pulled: manifest unknown';
  const api = scriptedApi([view(4, [3, 4]), view(4, [3, 4], { state: "halted", reason })]);
  await assert.rejects(waitForRollout(api, "ep9", 4, 60, fakeClock()), {
    message: `endpoint ep9: rollout to revision 4 halted: ${reason}`,
  });
  assert.equal(api.paths.length, 2);
});

test("a halted rollout without a reason says so", async (t) => {
  capturedLog(t);
  const api = scriptedApi([view(4, [3], { state: "halted" })]);
  await assert.rejects(waitForRollout(api, "ep9", 4, 60, fakeClock()), {
    message: "endpoint ep9: rollout to revision 4 halted: no reason given",
  });
});

test("the halt of an earlier revision's rollout does not fail the wait for a newer one", async (t) => {
  capturedLog(t);
  const api = scriptedApi([view(5, [4], { revision: 4, state: "halted", reason: "old news" }), view(5, [5])]);
  await waitForRollout(api, "ep9", 5, 60, fakeClock());
  assert.equal(api.paths.length, 2);
});

test("an endpoint gone during its rollout fails the wait naming it", async (t) => {
  capturedLog(t);
  const api = scriptedApi([view(2, [1]), undefined]);
  await assert.rejects(waitForRollout(api, "ep3", 2, 60, fakeClock()), {
    message: "endpoint ep3 disappeared during its rollout to revision 2",
  });
});

test("at the deadline the wait fails naming the endpoint, the revision and the outdated workers left, on fake time only", async (t) => {
  capturedLog(t);
  const api = scriptedApi([view(7, [6, 6, 7], { batchSize: 1 })]);
  const clock = fakeClock();
  const started = clock.now();
  const wallStarted = performance.now();
  // The provider's default deadline, 30 minutes: with real sleeps this test could not finish.
  await assert.rejects(waitForRollout(api, "ep5", 7, 1800, clock), {
    message:
      "endpoint ep5: rollout to revision 7 not finished after 1800 s " +
      "(2 outdated workers left; the control plane keeps rolling, run pulumi up again to wait)",
  });
  // It polls every 500 ms until its time is past the deadline, and gives up at the first read after it.
  assert.equal(clock.now() - started, 1800 * 1000 + 500);
  assert.equal(api.paths.length, (1800 * 1000) / 500 + 2);
  assert.ok(performance.now() - wallStarted < 5000, "the wait slept on real time");
});

test("waiting for no workers returns once the endpoint has none, or is gone", async () => {
  const drained = scriptedApi([view(1, [1, 1]), view(1, [1]), view(1, [])]);
  const clock = fakeClock();
  await waitForNoWorkers(drained, "ep2", 60, clock);
  assert.equal(drained.paths.length, 3);
  assert.deepEqual(clock.slept, [500, 500]);

  const gone = scriptedApi([view(1, [1]), undefined]);
  await waitForNoWorkers(gone, "ep2", 60, fakeClock());
  assert.equal(gone.paths.length, 2);
});

test("waiting for no workers fails at the deadline with the number still draining", async () => {
  const api = scriptedApi([view(1, [1, 1, 1])]);
  const clock = fakeClock();
  const started = clock.now();
  await assert.rejects(waitForNoWorkers(api, "ep2", 10, clock), { message: "endpoint ep2: 3 workers still draining after 10 s" });
  assert.equal(clock.now() - started, 10 * 1000 + 500);
});
