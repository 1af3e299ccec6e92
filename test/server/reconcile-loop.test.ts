// The reconcile loop both runtimes share: passes never overlap, triggers during a pass make exactly one more.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReconcileLoop } from "../../server/runtimes/reconcile-loop";

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("triggers during a pass make one more pass, never an overlapping one; a failed pass does not stop the loop", async () => {
  let running = 0;
  let overlapped = false;
  let passes = 0;
  const failures: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const loop = new ReconcileLoop(
    async () => {
      overlapped ||= running > 0;
      running++;
      passes++;
      await gate;
      running--;
      if (passes === 2) throw new Error("pass 2 failed");
    },
    60_000,
    (err) => failures.push(err.message),
  );
  loop.start();
  await settle();
  assert.equal(passes, 1, "the first pass runs at start");
  for (let i = 0; i < 5; i++) loop.trigger();
  await settle();
  assert.equal(passes, 1, "no pass starts while one runs");
  release();
  await settle();
  assert.equal(passes, 2, "the five triggers made one more pass");
  loop.trigger();
  await settle();
  assert.equal(passes, 3, "the loop goes on after a failed pass");
  assert.deepEqual(failures, ["pass 2 failed"]);
  assert.equal(overlapped, false);
  await loop.stop();
  loop.trigger();
  await settle();
  assert.equal(passes, 3, "nothing runs after stop");
});

test("triggers naming endpoints make one pass over those alone; one naming none widens it to every endpoint", async () => {
  const passes: Array<string[] | "all"> = [];
  let release!: () => void;
  let gate = new Promise<void>((resolve) => (release = resolve));
  const loop = new ReconcileLoop(
    async (only) => {
      passes.push(only ? [...only].sort() : "all");
      await gate;
    },
    60_000,
    (err) => assert.fail(err),
  );
  loop.start();
  await settle();
  assert.deepEqual(passes, ["all"], "the first pass, at start, is over every endpoint");
  loop.trigger("ep-b");
  loop.trigger("ep-a");
  loop.trigger("ep-b");
  release();
  gate = new Promise<void>((resolve) => (release = resolve));
  await settle();
  assert.deepEqual(passes, ["all", ["ep-a", "ep-b"]], "jobs queued on two endpoints: one pass over those two");
  loop.trigger("ep-c");
  loop.trigger();
  loop.trigger("ep-d");
  release();
  await settle();
  assert.deepEqual(passes, ["all", ["ep-a", "ep-b"], "all"], "a trigger naming no endpoint asks for all of them");
  await loop.stop();
});
