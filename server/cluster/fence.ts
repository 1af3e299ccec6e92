/**
 * Whether this control plane holds the lease at this moment, by its own clock. A runtime asks it right before
 * every change it makes (a container started or removed, a Deployment scaled), so that a leader frozen past its
 * lease (a long pause, a stalled machine) finds on waking that it may no longer act, before its timers tell it.
 */
export type Fence = () => boolean;

/** A control plane that is always the leader: SQLite's, alone on its store. */
export const soleLeader: Fence = () => true;

export class LeaseLostError extends Error {
  constructor(action: string) {
    super(`did not ${action}: this control plane no longer holds the lease, another one leads now`);
    this.name = "LeaseLostError";
  }
}

/** Throws LeaseLostError unless the lease is still held. */
export function mustHoldLease(fence: Fence, action: string): void {
  if (!fence()) throw new LeaseLostError(action);
}
