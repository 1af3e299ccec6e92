// The workers view's history (server/monitoring/endpoint-history.ts): samples, percentiles of the jobs that ended in
// each interval, scale and rollout events, the window, and the last error.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EndpointHistory, eventsBetween, percentiles } from "../../server/monitoring/endpoint-history";

const at = (t: number, workers: Record<string, number>, rollout = { revision: 1, state: "done" }) => ({ t, queued: 0, inProgress: 0, workers, rollout });

test("percentiles are nearest-rank p50 and p95, null for no jobs", () => {
  assert.equal(percentiles([]), null);
  assert.deepEqual(percentiles([7]), { p50: 7, p95: 7 });
  assert.deepEqual(percentiles(Array.from({ length: 100 }, (_, i) => 100 - i)), { p50: 50, p95: 95 });
});

test("a sample takes the durations of the jobs ended since the previous one, then starts afresh", () => {
  const history = new EndpointHistory(60_000);
  for (const ms of [10, 20, 30, 40]) history.jobEnded("ep", { delayMs: ms, executionMs: ms * 10 });
  history.record("ep", at(1_000, { Idle: 1 }));
  history.record("ep", at(2_000, { Idle: 1 }));
  const [first, second] = history.view("ep", 1_000).samples;
  assert.deepEqual(first, { t: 1_000, queued: 0, inProgress: 0, workers: { Idle: 1 }, jobsEnded: 4, delayMs: { p50: 20, p95: 40 }, executionMs: { p50: 200, p95: 400 } });
  assert.equal(second!.jobsEnded, 0);
  assert.equal(second!.delayMs, null);
});

test("scale and rollout events are marked where they happen; the window drops older samples and events", () => {
  assert.deepEqual(eventsBetween(undefined, at(0, { Idle: 1 })), []);
  assert.deepEqual(eventsBetween(at(0, { Idle: 1 }), at(5, { Idle: 1, Initializing: 2 })), [{ t: 5, kind: "scale", text: "1 → 3 workers" }]);
  assert.deepEqual(eventsBetween(at(0, { Idle: 1 }), at(5, { Idle: 1 }, { revision: 2, state: "rolling" })), [
    { t: 5, kind: "rollout", text: "rollout to revision 2 started" },
  ]);
  assert.deepEqual(eventsBetween(at(0, { Idle: 1 }, { revision: 2, state: "rolling" }), at(5, { Idle: 1 }, { revision: 2, state: "done" })), [
    { t: 5, kind: "rollout", text: "rollout to revision 2 done" },
  ]);

  const history = new EndpointHistory(10_000);
  history.record("ep", at(0, {}));
  history.record("ep", at(5_000, { Idle: 2 }));
  history.record("ep", at(20_000, { Idle: 2 }));
  const view = history.view("ep", 5_000);
  assert.deepEqual(view.samples.map((s) => s.t), [20_000]);
  assert.deepEqual(view.events, []);
  assert.equal(view.windowMs, 10_000);
});

test("the last error is the newest of a failed job's and an unhealthy worker's", () => {
  const history = new EndpointHistory(60_000);
  assert.equal(history.lastError("ep"), null);
  history.jobEnded("ep", { error: { at: 1_000, message: "ValueError: bad input", jobId: "job-1" } });
  assert.deepEqual(history.lastError("ep"), { at: new Date(1_000).toISOString(), message: "ValueError: bad input", jobId: "job-1" });
  history.workerFailed("ep", "w-1", "exited with code 1", 2_000);
  history.workerFailed("ep", "w-1", "exited with code 1", 3_000);
  assert.deepEqual(history.lastError("ep"), { at: new Date(2_000).toISOString(), message: "exited with code 1", workerId: "w-1" });
});
