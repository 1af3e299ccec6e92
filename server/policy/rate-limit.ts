/**
 * A token bucket: `requestsPer10s` tokens at most, refilled evenly over 10 s, one per request. Unlike a fixed
 * window it lets no burst of twice the limit through across a window's edge, and it says exactly how long until
 * the next request would pass (Retry-After).
 */
export interface Bucket {
  tokens: number;
  updatedAt: number;
}

const WINDOW_MS = 10_000;

export type BucketDecision = { allowed: true; bucket: Bucket } | { allowed: false; bucket: Bucket; retryAfterMs: number };

/** Takes one token from the bucket as it stands at `now`; a missing bucket starts full. */
export function takeToken(bucket: Bucket | undefined, requestsPer10s: number, now: number): BucketDecision {
  const perMs = requestsPer10s / WINDOW_MS;
  const refilled = bucket ? Math.min(requestsPer10s, bucket.tokens + (now - bucket.updatedAt) * perMs) : requestsPer10s;
  if (refilled >= 1) return { allowed: true, bucket: { tokens: refilled - 1, updatedAt: now } };
  return { allowed: false, bucket: { tokens: refilled, updatedAt: now }, retryAfterMs: Math.ceil((1 - refilled) / perMs) };
}

/** Whether a bucket left alone until `now` would be full again: then it can be forgotten. */
export function isFull(bucket: Bucket, requestsPer10s: number, now: number): boolean {
  return bucket.tokens + (now - bucket.updatedAt) * (requestsPer10s / WINDOW_MS) >= requestsPer10s;
}
