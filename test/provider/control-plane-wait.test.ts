// The ControlPlane resource's wait for a new control plane to answer, on a fake clock and a scripted probe: its
// deadline is a minute, which the tests through the real engine never reach.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Clock } from "../../provider/clock";
import { READY_TIMEOUT_MS, waitUntilAnswering, type ControlPlaneProbe } from "../../provider/control-plane";

/** A clock whose sleep only moves its time on. */
function fakeClock(): Clock & { slept: number } {
  const clock = {
    slept: 0,
    now: () => 1_000_000 + clock.slept,
    sleep: async (ms: number) => {
      clock.slept += ms;
    },
  };
  return clock;
}

/** A control plane that answers on the given poll (never, when undefined), its container in `status` meanwhile. */
function probe(answersOnPoll: number | undefined, status: () => string | undefined = () => "running"): ControlPlaneProbe & { polls: number } {
  const p = {
    container: "berth-control-plane-t",
    url: "http://127.0.0.1:9",
    polls: 0,
    answers: async () => ++p.polls === answersOnPoll,
    status: async () => status(),
    lastWords: async () => "listening soon",
  };
  return p;
}

test("returns once the control plane answers, having waited only between polls", async () => {
  const clock = fakeClock();
  const p = probe(5);
  await waitUntilAnswering(p, clock);
  assert.equal(p.polls, 5);
  assert.equal(clock.slept, 4 * 250);
});

test("gives up at the deadline, naming the container, the address, its status and its last words", async () => {
  const clock = fakeClock();
  const p = probe(undefined);
  await assert.rejects(waitUntilAnswering(p, clock), {
    message: "the control plane in container berth-control-plane-t did not answer at http://127.0.0.1:9: running\nlistening soon",
  });
  assert.ok(clock.slept > READY_TIMEOUT_MS, `gave up after ${clock.slept} ms, past the deadline`);
  assert.ok(clock.slept <= READY_TIMEOUT_MS + 250, `gave up after ${clock.slept} ms, within one poll of the deadline`);
});

test("a container that exits or goes fails the wait at once, without waiting for the deadline", async () => {
  for (const status of ["exited", undefined]) {
    const clock = fakeClock();
    await assert.rejects(waitUntilAnswering(probe(undefined, () => status), clock), {
      message: `the control plane in container berth-control-plane-t did not answer at http://127.0.0.1:9: ${status ?? "gone"}\nlistening soon`,
    });
    assert.equal(clock.slept, 0);
  }
});
