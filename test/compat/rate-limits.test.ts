// The client API's rate limits (server/api/rate-limits.ts), met by the real runpod-sdk npm client: over the limit a
// key gets 429 with Retry-After, per key and endpoint, and an endpoint's rateLimits override RunPod's defaults.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import runpodSdk from "runpod-sdk";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint, eventually, type TestEndpoint } from "../helpers/endpoint";

describe("rate limits with the runpod-sdk client", () => {
  let cp: ControlPlaneProcess;
  let limited: TestEndpoint;
  let runKey: string;

  before(async () => {
    cp = await ControlPlaneProcess.start();
    // No worker: jobs stay queued, and a status-sync holds its request for as long as it waits.
    limited = await createEndpoint(cp, { rateLimits: { run: { requestsPer10s: 5 }, sync: { concurrent: 2 } } });
    const made = await apiClient(cp).post("/admin/keys", { name: "app", scope: "run", endpointIds: [limited.id] });
    assert.equal(made.status, 201, JSON.stringify(made.data));
    runKey = made.data.key;
  });
  after(async () => {
    await cp?.stop();
    cp?.removeData();
  });

  test("a burst of /run beyond the endpoint's limit: the first ones queue, the rest are refused with 429", async () => {
    const endpoint = runpodSdk(runKey, { baseUrl: `${cp.url}/v2` }).endpoint(limited.id)!;
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, n) => endpoint.run({ input: { n } })));
    const queued = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    // 5 in the bucket; a slow burst may see half a token more come back (0.5 a second).
    assert.ok(queued.length >= 5 && queued.length <= 6, `queued ${queued.length} of 20`);
    for (const r of refused) assert.equal((r.reason as { response?: { status?: number } }).response?.status, 429, String(r.reason));
    assert.equal(queued.length + refused.length, 20);

    const raw = await apiClient(cp, runKey).post(`/v2/${limited.id}/run`, { input: {} });
    assert.equal(raw.status, 429);
    assert.equal(raw.data.error, "rate_limited");
    assert.match(raw.data.message, /5 run requests per 10 s/);
    const retryAfter = Number(raw.headers["retry-after"]);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2, `Retry-After: ${raw.headers["retry-after"]}`);
  });

  test("limits are per key: another key still gets through", async () => {
    const other = runpodSdk(cp.apiKey, { baseUrl: `${cp.url}/v2` }).endpoint(limited.id)!;
    const { status } = await other.run({ input: { other: true } });
    assert.equal(status, "IN_QUEUE");
  });

  test("the concurrency limit: a third request while two wait is refused, and let in once they end", async () => {
    const client = apiClient(cp, runKey);
    const queued = await apiClient(cp).post(`/v2/${limited.id}/run`, { input: {} });
    const waiting = [0, 1].map(() => client.get(`/v2/${limited.id}/status-sync/${queued.data.id}?wait=3000`));
    // Polled: refused once both waiting requests have reached the server.
    const third = await eventually("a third request to be refused", async () => {
      const reply = await client.get(`/v2/${limited.id}/status/${queued.data.id}`);
      return reply.status === 429 ? reply : undefined;
    }, 2_500);
    assert.match(third.data.message, /2 sync requests in progress at once/);
    assert.ok((await Promise.all(waiting)).every((r) => r.status === 200));
    assert.equal((await client.get(`/v2/${limited.id}/status/${queued.data.id}`)).status, 200);
  });

  test("a bad limit is refused naming the field", async () => {
    const bad = await apiClient(cp).put(`/admin/endpoints/${limited.id}`, { name: "x", templateId: "t", rateLimits: { run: { requestsPer10s: 0 } } });
    assert.equal(bad.status, 400);
    assert.match(bad.data.message, /body\.rateLimits\.run\.requestsPer10s/);
  });
});
