import type { Lease } from "./lease";

export interface LeaderElectionConfig {
  /** How long a claim lasts without renewal. */
  leaseTtlMs: number;
  /** How often the lease is claimed or renewed; well under the ttl, so that one slow renewal costs nothing. */
  renewEveryMs: number;
}

/** Time as the election sees it: a monotonic clock and a timer, so tests can drive both. */
export interface ElectionClock {
  now(): number;
  /** Calls `fn` after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const realElectionClock: ElectionClock = {
  now: () => performance.now(),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export interface LeaderDuties {
  /** Starts what only the leader runs (the runtime's fleet, the sweeper); a failure leaves this control plane a follower. */
  lead(): Promise<void>;
  /** Stops it; resolves once nothing of it acts any more. */
  stepDown(): Promise<void>;
}

/**
 * Keeps this control plane's claim on the lease and runs the leader's duties while it holds it.
 *
 * Never two leaders at once: a leader counts its lease from just before the claim that granted it, on its own
 * clock, and steps down as soon as that count passes the ttl less one renewal interval without a new grant,
 * whether the database said no or did not answer at all. Another control plane can only claim the lease once the
 * database's clock has passed the ttl since that grant, which is later. Handover after a leader dies takes at
 * most the ttl plus one renewal interval.
 */
export class LeaderElection {
  private leading = false;
  private stopped = false;
  private validUntil = 0;
  private cancelTick: (() => void) | undefined;
  private cancelDeadline: (() => void) | undefined;
  /** One transition (lead or step down) at a time. */
  private transitions: Promise<void> = Promise.resolve();
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly lease: Lease,
    private readonly holder: string,
    private readonly config: LeaderElectionConfig,
    private readonly duties: LeaderDuties,
    private readonly failed: (err: Error) => void,
    private readonly clock: ElectionClock = realElectionClock,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Leading, and the lease still valid by this control plane's clock now (the runtime's fence: cluster/fence.ts). */
  holdsLease(): boolean {
    return this.leading && this.clock.now() < this.validUntil;
  }

  /**
   * Makes the first claim (and leads, if granted) before it resolves, then keeps claiming every interval. A first
   * lead that fails rejects, so a control plane that cannot run its runtime says so at start; later ones are reported.
   */
  async start(): Promise<void> {
    const first = this.claim();
    this.ticking = first.catch(() => undefined).finally(() => this.scheduleTick());
    await first;
  }

  /** Stops claiming; a leader steps down first, then gives the lease up for the next one. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTick?.();
    this.cancelDeadline?.();
    await this.ticking;
    if (this.leading) {
      await this.transition(false);
      await this.lease.release(this.holder).catch((err: Error) => this.failed(err));
    }
    await this.transitions;
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.cancelTick = this.clock.after(this.config.renewEveryMs, () => {
      this.ticking = this.claim()
        .catch((err: Error) => this.failed(err))
        .finally(() => this.scheduleTick());
    });
  }

  private async claim(): Promise<void> {
    const askedAt = this.clock.now();
    let granted: boolean;
    try {
      granted = await this.lease.claim(this.holder, this.config.leaseTtlMs);
    } catch (err) {
      this.failed(err as Error);
      granted = false;
    }
    if (this.stopped) return;
    if (!granted) {
      if (this.leading) await this.transition(false);
      return;
    }
    this.validUntil = askedAt + this.config.leaseTtlMs - this.config.renewEveryMs;
    this.armDeadline();
    if (!this.leading && this.clock.now() < this.validUntil) await this.transition(true);
  }

  /** Steps down once the lease's time is up without a renewal; a timer that fires early looks again later. */
  private armDeadline(): void {
    this.cancelDeadline?.();
    const left = this.validUntil - this.clock.now();
    if (left > 0) this.cancelDeadline = this.clock.after(Math.ceil(left), () => this.armDeadline());
    else if (this.leading) void this.transition(false);
  }

  /** Leads or steps down, one at a time; a lead that fails steps back down and rejects with why. */
  private transition(lead: boolean): Promise<void> {
    const done = this.transitions.then(async () => {
      if (this.leading === lead) return;
      this.leading = lead;
      if (!lead) return this.duties.stepDown().catch((err: Error) => this.failed(err));
      try {
        await this.duties.lead();
      } catch (err) {
        this.leading = false;
        await this.duties.stepDown().catch((stepDownErr: Error) => this.failed(stepDownErr));
        throw err;
      }
    });
    this.transitions = done.catch(() => undefined);
    return done;
  }
}
