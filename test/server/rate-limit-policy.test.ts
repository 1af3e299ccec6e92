// The token bucket behind the client API's rate limits (server/policy/rate-limit.ts) and the limiter that keeps one
// per key, endpoint and group (server/api/rate-limits.ts), on a clock the test moves.
import assert from "node:assert/strict";
import { test } from "node:test";
import { takeToken } from "../../server/policy/rate-limit";
import { RateLimiter, RUNPOD_RATE_LIMITS } from "../../server/api/rate-limits";

test("a bucket lets its size through at once, then one request per refill, and says when the next one passes", () => {
  let bucket;
  for (let i = 0; i < 10; i++) {
    const decision = takeToken(bucket, 10, 0);
    assert.equal(decision.allowed, true, `request ${i}`);
    bucket = decision.bucket;
  }
  const refused = takeToken(bucket, 10, 0);
  assert.equal(refused.allowed, false);
  assert.equal(refused.allowed === false && refused.retryAfterMs, 1000);
  assert.equal(takeToken(refused.bucket, 10, 999).allowed, false);
  assert.equal(takeToken(refused.bucket, 10, 1000).allowed, true);
});

test("no burst of twice the limit across a window's edge: 10 s after a burst, one bucket's worth again", () => {
  let bucket;
  let allowed = 0;
  for (let t = 0; t <= 10_000; t += 100) {
    for (let i = 0; i < 20; i++) {
      const decision = takeToken(bucket, 100, t);
      bucket = decision.bucket;
      if (decision.allowed) allowed++;
    }
  }
  // 100 at first, then 100 more refilled over the 10 s.
  assert.equal(allowed, 200);
});

test("the limiter keeps keys, endpoints and groups apart, applies overrides and counts requests in progress", () => {
  let now = 0;
  const limiter = new RateLimiter(() => now);
  const purge = () => limiter.admit("key-1", "ep-1", "purgeQueue", undefined);
  assert.equal(RUNPOD_RATE_LIMITS.purgeQueue.requestsPer10s, 2);
  assert.equal(purge().admitted, true);
  assert.equal(purge().admitted, true);
  const refused = purge();
  assert.deepEqual(refused, { admitted: false, retryAfterSeconds: 5, rule: "2 purgeQueue requests per 10 s" });
  assert.equal(limiter.admit("key-2", "ep-1", "purgeQueue", undefined).admitted, true, "another key");
  assert.equal(limiter.admit("key-1", "ep-2", "purgeQueue", undefined).admitted, true, "another endpoint");
  now = 5_000;
  assert.equal(purge().admitted, true, "a token back after 5 s");

  const first = limiter.admit("key-1", "ep-1", "cancel", { cancel: { concurrent: 1 } });
  assert.equal(first.admitted, true);
  assert.deepEqual(limiter.admit("key-1", "ep-1", "cancel", { cancel: { concurrent: 1 } }), {
    admitted: false,
    retryAfterSeconds: 1,
    rule: "1 cancel requests in progress at once",
  });
  if (first.admitted) first.release();
  assert.equal(limiter.admit("key-1", "ep-1", "cancel", { cancel: { concurrent: 1 } }).admitted, true, "let in once the first ended");
});
