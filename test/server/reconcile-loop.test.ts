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
