import assert from "node:assert/strict";
import { test } from "node:test";
import { concurrently } from "../../server/runtimes/concurrently";

test("concurrently runs every task, never more than the limit at once", async () => {
  let running = 0;
  let most = 0;
  const done: number[] = [];
  await concurrently([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setImmediate(resolve));
    done.push(n);
    running--;
  });
  assert.deepEqual(done.sort(), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(most, 3);
});

test("concurrently rejects with a failure once the started tasks have settled", async () => {
  const settled: number[] = [];
  await assert.rejects(
    concurrently([1, 2, 3], 3, async (n) => {
      await new Promise((resolve) => setImmediate(resolve));
      settled.push(n);
      if (n === 2) throw new Error("patch of pod 2 failed");
    }),
    /patch of pod 2 failed/,
  );
  assert.deepEqual(settled.sort(), [1, 2, 3]);
});

test("concurrently with nothing to do resolves at once", async () => {
  await concurrently([], 4, async () => assert.fail("no task"));
});
