import type { RateLimitOverrides } from "../resources/schemas";
import { isFull, takeToken, type Bucket } from "../policy/rate-limit";
import type { RateGroup } from "./route-access";

export interface RateLimit {
  requestsPer10s: number;
  /** Requests in progress at once; none for /purge-queue, as at RunPod. */
  concurrent?: number;
}

/**
 * RunPod's documented limits per endpoint (docs serverless/endpoints/send-requests, July 2026), applied here per API
 * key and endpoint. RunPod raises them with the endpoint's running workers; Berth keeps the base figures, which an
 * endpoint's `rateLimits` overrides.
 */
export const RUNPOD_RATE_LIMITS: Readonly<Record<RateGroup, RateLimit>> = {
  run: { requestsPer10s: 1000, concurrent: 200 },
  sync: { requestsPer10s: 2000, concurrent: 400 },
  cancel: { requestsPer10s: 100, concurrent: 20 },
  purgeQueue: { requestsPer10s: 2 },
};

/** Buckets kept before full ones (callers quiet for 10 s) are forgotten. */
const PRUNE_ABOVE = 10_000;

export type Admission = { admitted: true; release: () => void } | { admitted: false; retryAfterSeconds: number; rule: string };

/**
 * The client API's limits, per (API key, endpoint, group), in this control plane's memory: with several replicas
 * behind a load balancer each counts what it serves, so a key may get up to that many times the limit.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { bucket: Bucket; requestsPer10s: number }>();
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  admit(keyId: string, endpointId: string, group: RateGroup, overrides: RateLimitOverrides | undefined): Admission {
    const limit = { ...RUNPOD_RATE_LIMITS[group], ...overrides?.[group] };
    const id = `${keyId}\u0000${endpointId}\u0000${group}`;
    const running = this.inFlight.get(id) ?? 0;
    if (limit.concurrent !== undefined && running >= limit.concurrent) {
      return { admitted: false, retryAfterSeconds: 1, rule: `${limit.concurrent} ${group} requests in progress at once` };
    }
    const now = this.now();
    const decision = takeToken(this.buckets.get(id)?.bucket, limit.requestsPer10s, now);
    this.buckets.set(id, { bucket: decision.bucket, requestsPer10s: limit.requestsPer10s });
    if (!decision.allowed) {
      return { admitted: false, retryAfterSeconds: Math.ceil(decision.retryAfterMs / 1000), rule: `${limit.requestsPer10s} ${group} requests per 10 s` };
    }
    if (this.buckets.size > PRUNE_ABOVE) this.prune(now);
    this.inFlight.set(id, running + 1);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.inFlight.get(id) ?? 1) - 1;
        if (left > 0) this.inFlight.set(id, left);
        else this.inFlight.delete(id);
      },
    };
  }

  private prune(now: number): void {
    for (const [id, { bucket, requestsPer10s }] of this.buckets) {
      if (!this.inFlight.has(id) && isFull(bucket, requestsPer10s, now)) this.buckets.delete(id);
    }
  }
}
