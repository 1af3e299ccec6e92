// Leader election: the rules on a fake clock and a fake lease (pure logic), then several elections racing for one
// real PostgreSQL lease, with leaders that crash (their database stops answering) and come back.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LeaderElection, type ElectionClock } from "../../server/cluster/leader-election";
import type { Lease } from "../../server/cluster/lease";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { PostgresLease } from "../../server/store/postgres/lease";
import { eventually } from "../helpers/endpoint";
import { freshDatabase } from "../helpers/postgres";

/** A clock whose time moves only when the test says, running due timers in order. */
class FakeClock implements ElectionClock {
  private time = 0;
  private timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  now = () => this.time;
  after = (ms: number, fn: () => void) => {
    const timer = { at: this.time + ms, fn, cancelled: false };
    this.timers.push(timer);
    return () => void (timer.cancelled = true);
  };
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.time = due.at;
      due.cancelled = true;
      due.fn();
    }
    this.time = end;
    await settle();
  }
  /** Time passes with no timer run: a process frozen (SIGSTOP, a stalled machine) that has not woken yet. */
  freeze(ms: number): void {
    this.time += ms;
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A lease the test answers: grant, refuse, or never answer (a database that went away). */
function scriptedLease() {
  let answer: "grant" | "refuse" | "hang" = "grant";
  const claims: number[] = [];
  const lease: Lease & { answer(a: typeof answer): void; claims: number[] } = {
    claims,
    answer: (a) => void (answer = a),
    claim: () => {
      claims.push(claims.length);
      if (answer === "hang") return new Promise<boolean>(() => undefined);
      return Promise.resolve(answer === "grant");
    },
    release: async () => undefined,
  };
  return lease;
}

function recordingDuties(clock: { now(): number }) {
  const events: Array<[string, number]> = [];
  return {
    events,
    lead: async () => void events.push(["lead", clock.now()]),
    stepDown: async () => void events.push(["stepDown", clock.now()]),
  };
}

const CONFIG = { leaseTtlMs: 3000, renewEveryMs: 1000 };

describe("leader election: the rules", () => {
  test("a granted claim leads at once and renews every interval", async () => {
    const clock = new FakeClock();
    const lease = scriptedLease();
    const duties = recordingDuties(clock);
    const election = new LeaderElection(lease, "a", CONFIG, duties, (err) => assert.fail(err), clock);
    await election.start();
    assert.equal(election.isLeader, true);
    await clock.advance(3500);
    assert.equal(lease.claims.length, 4, "claims at 0, 1, 2 and 3 s");
    assert.deepEqual(duties.events, [["lead", 0]]);
    await election.stop();
  });

  test("a leader whose database stops answering steps down before its lease could lapse", async () => {
    const clock = new FakeClock();
    const lease = scriptedLease();
    const duties = recordingDuties(clock);
    const election = new LeaderElection(lease, "a", CONFIG, duties, (err) => assert.fail(err), clock);
    await election.start();
    lease.answer("hang"); // the renewal at 1 s never returns
    await clock.advance(5000);
    assert.equal(election.isLeader, false);
    const stepped = duties.events.find(([what]) => what === "stepDown")![1];
    assert.equal(stepped, CONFIG.leaseTtlMs - CONFIG.renewEveryMs, "stepped down at the last grant's ttl less one interval");
    assert.ok(stepped < CONFIG.leaseTtlMs, "before anyone else could claim the lease");
  });

  test("the fence: a leader frozen past its lease holds it no more, before its timers have run to say so", async () => {
    const clock = new FakeClock();
    const lease = scriptedLease();
    const duties = recordingDuties(clock);
    const election = new LeaderElection(lease, "a", CONFIG, duties, (err) => assert.fail(err), clock);
    await election.start();
    assert.equal(election.holdsLease(), true);
    clock.freeze(CONFIG.leaseTtlMs - CONFIG.renewEveryMs - 1);
    assert.equal(election.holdsLease(), true, "just inside the last grant's ttl less one interval");
    clock.freeze(1);
    assert.equal(election.isLeader, true, "no timer has run yet");
    assert.equal(election.holdsLease(), false, "but the lease is not held any more");
    lease.answer("refuse");
    await clock.advance(0);
    assert.equal(election.isLeader, false);
    await election.stop();
  });

  test("a refused renewal steps down at once; a later grant leads again", async () => {
    const clock = new FakeClock();
    const lease = scriptedLease();
    const duties = recordingDuties(clock);
    const election = new LeaderElection(lease, "a", CONFIG, duties, (err) => assert.fail(err), clock);
    await election.start();
    lease.answer("refuse");
    await clock.advance(1000);
    assert.equal(election.isLeader, false);
    lease.answer("grant");
    await clock.advance(1000);
    assert.equal(election.isLeader, true);
    assert.deepEqual(duties.events, [
      ["lead", 0],
      ["stepDown", 1000],
      ["lead", 2000],
    ]);
    await election.stop();
    assert.deepEqual(duties.events.at(-1)![0], "stepDown", "stop() steps down");
  });

  test("a failed claim is reported and counts as refused", async () => {
    const clock = new FakeClock();
    const errors: Error[] = [];
    const lease: Lease = { claim: async () => Promise.reject(new Error("connection refused")), release: async () => undefined };
    const duties = recordingDuties(clock);
    const election = new LeaderElection(lease, "a", CONFIG, duties, (err) => errors.push(err), clock);
    await election.start();
    await clock.advance(2500);
    assert.equal(election.isLeader, false);
    assert.deepEqual(duties.events, []);
    assert.deepEqual(errors.map((e) => e.message), ["connection refused", "connection refused", "connection refused"]);
    await election.stop();
  });

  test("a lead that fails at start rejects start() and stays a follower; a later grant tries again", async () => {
    const clock = new FakeClock();
    const lease = scriptedLease();
    const errors: Error[] = [];
    let attempts = 0;
    const events: string[] = [];
    const duties = {
      lead: async () => {
        events.push("lead");
        if (++attempts === 1) throw new Error("the runtime does not answer");
      },
      stepDown: async () => void events.push("stepDown"),
    };
    const election = new LeaderElection(lease, "a", CONFIG, duties, (err) => errors.push(err), clock);
    await assert.rejects(election.start(), /the runtime does not answer/);
    assert.equal(election.isLeader, false);
    await clock.advance(1000);
    assert.equal(election.isLeader, true, "the next grant leads");
    assert.deepEqual(events, ["lead", "stepDown", "lead"], "what a failed lead started is stopped");
    assert.deepEqual(errors, []);
    await election.stop();
  });
});

describe("leader election on PostgreSQL", () => {
  test("control planes racing for one lease: never two leaders at once, and a crashed leader is replaced in time", async (t) => {
    const database = await freshDatabase("lease");
    const db = await PostgresDatabase.open(database.url);
    t.after(async () => {
      await db.close();
      await database.drop();
    });
    const config = { leaseTtlMs: 600, renewEveryMs: 200 };
    /** Leadership as each control plane lived it, on one clock: [holder, from, to]. */
    const terms: Array<{ holder: string; from: number; to?: number }> = [];
    /** Crashed control planes, with the claims they made meanwhile: those never return until it comes back. */
    const crashed = new Map<string, Array<(err: Error) => void>>();
    const recover = (holder: string) => {
      for (const fail of crashed.get(holder) ?? []) fail(new Error("connection lost"));
      crashed.delete(holder);
    };
    const elections = ["a", "b", "c"].map((holder) => {
      const real = new PostgresLease(db.sql);
      // A crashed control plane's database calls hang, as when its host drops off the network, and fail once it is back.
      const lease: Lease = {
        claim: (h, ttl) => {
          const hanging = crashed.get(holder);
          if (!hanging) return real.claim(h, ttl);
          return new Promise<boolean>((_, reject) => hanging.push(reject));
        },
        release: (h) => real.release(h),
      };
      return new LeaderElection(
        lease,
        holder,
        config,
        {
          lead: async () => void terms.push({ holder, from: performance.now() }),
          stepDown: async () => void (terms.findLast((term) => term.holder === holder)!.to = performance.now()),
        },
        () => undefined,
      );
    });
    t.after(async () => {
      for (const holder of [...crashed.keys()]) recover(holder);
      await Promise.all(elections.map((e) => e.stop()));
    });
    await Promise.all(elections.map((e) => e.start()));
    const leader = () => eventually("a leader", () => elections.findIndex((e) => e.isLeader) >= 0 ? ["a", "b", "c"][elections.findIndex((e) => e.isLeader)] : undefined, 5000);

    for (let round = 0; round < 3; round++) {
      const current = await leader();
      const crashedAt = performance.now();
      crashed.set(current!, []);
      const next = await eventually("another leader", () => {
        const i = elections.findIndex((e, j) => e.isLeader && ["a", "b", "c"][j] !== current);
        return i >= 0 ? ["a", "b", "c"][i] : undefined;
      }, 5000);
      const took = performance.now() - crashedAt;
      assert.ok(took <= config.leaseTtlMs + config.renewEveryMs + 300, `handed over in ${Math.round(took)} ms`);
      assert.notEqual(next, current);
      recover(current!); // it comes back, as a follower
    }

    const ordered = [...terms].sort((x, y) => x.from - y.from);
    const t0 = ordered[0]!.from;
    const described = ordered.map((term) => `${term.holder} ${Math.round(term.from - t0)}..${term.to === undefined ? "" : Math.round(term.to - t0)}`).join(", ");
    for (let i = 1; i < ordered.length; i++) {
      const before = ordered[i - 1]!;
      assert.ok(before.to !== undefined && before.to <= ordered[i]!.from, `${before.holder} still led when ${ordered[i]!.holder} began: ${described}`);
    }
    assert.ok(ordered.length >= 4, "every crash handed leadership over");
  });
});
