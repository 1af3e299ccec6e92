// Long-poll waiters: a watch started before a look at the store catches a change made during the look, and one
// given up after the look neither lingers nor swallows a wake-up meant for one waiter.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Waiters } from "../../server/jobs/waiters";

test("a change made while the caller looks wakes the watch it started before looking", async () => {
  const waiters = new Waiters<string>();
  const watch = waiters.watch("ep", 60_000);
  waiters.notifyOne("ep"); // the change lands while the caller is still reading the store
  assert.equal(await watch.woken, true);
});

test("a watch given up after a successful look says whether it took a one-waiter wake-up, and takes no more", async () => {
  const waiters = new Waiters<string>();
  const first = waiters.watch("ep", 60_000);
  const second = waiters.watch("ep", 60_000);
  waiters.notifyOne("ep");
  assert.equal(first.cancel(), true, "the first watcher had the wake-up: its caller passes it on");
  assert.equal(second.cancel(), false);
  const third = waiters.watch("ep", 60_000);
  waiters.notifyOne("ep");
  assert.equal(await third.woken, true, "given-up watches are gone: the next wake-up reaches a live waiter");
});

test("a watch ends at its deadline or when its client goes away", async () => {
  const waiters = new Waiters<string>();
  assert.equal(await waiters.watch("ep", 5).woken, false);
  const gone = new AbortController();
  const watch = waiters.watch("ep", 60_000, gone.signal);
  gone.abort();
  assert.equal(await watch.woken, false);
  assert.equal(await waiters.watch("ep", 60_000, gone.signal).woken, false, "an aborted client does not wait at all");
});

test("a notification can carry what changed; a waiter that timed out got nothing", async () => {
  const waiters = new Waiters<string, { status: string }>();
  const told = waiters.watch("job-1", 1_000);
  waiters.notify("job-1", { status: "COMPLETED" });
  assert.equal(await told.woken, true);
  assert.deepEqual(told.delivered(), { status: "COMPLETED" });
  const untold = waiters.watch("job-2", 1);
  assert.equal(await untold.woken, false);
  assert.equal(untold.delivered(), undefined);
});
