import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { readWorkerEnv, WorkerConfigError } from "../../sdk/worker/config";
import { WorkerUrls, withQuery } from "../../sdk/worker/urls";
import { SDK_VERSION } from "../../sdk/worker/version";

// The shape Berth's server/worker-env.ts hands out (and waverless uses).
const base = "http://cp:8910/v2/ep1";
const templates = {
  getJob: `${base}/job-take/$ID?`,
  postOutput: `${base}/job-done/$RUNPOD_POD_ID/$ID?`,
  postStream: `${base}/job-stream/$RUNPOD_POD_ID/$ID?`,
  ping: `${base}/ping/$RUNPOD_POD_ID`,
};

test("job-take: $ID is the worker id, job_in_progress appended to the trailing ?", () => {
  const urls = new WorkerUrls(templates, "w-1");
  assert.equal(urls.jobTake(1, false), `${base}/job-take/w-1?job_in_progress=0`);
  assert.equal(urls.jobTake(1, true), `${base}/job-take/w-1?job_in_progress=1`);
});

test("job-take for more than one job uses job-take-batch with batch_size, as runpod-python", () => {
  const urls = new WorkerUrls(templates, "w-1");
  assert.equal(urls.jobTake(4, true), `${base}/job-take-batch/w-1?batch_size=4&job_in_progress=1`);
});

test("job-stop is the job-take URL with /job-stop/, query kept and no job_in_progress", () => {
  assert.equal(new WorkerUrls(templates, "w-1").jobStop(), `${base}/job-stop/w-1?`);
  assert.equal(new WorkerUrls({ ...templates, getJob: "http://x/take/$ID?" }, "w").jobStop(), undefined);
});

test("job-done and job-stream: $RUNPOD_POD_ID -> worker id, then $ID -> job id, isStream in the query", () => {
  const urls = new WorkerUrls(templates, "w-1");
  assert.equal(urls.jobDone("job-9", false), `${base}/job-done/w-1/job-9?isStream=false`);
  assert.equal(urls.jobDone("job-9", true), `${base}/job-done/w-1/job-9?isStream=true`);
  assert.equal(urls.jobStream("job-9"), `${base}/job-stream/w-1/job-9?isStream=false`);
  assert.equal(new WorkerUrls({ ...templates, postStream: undefined }, "w").jobStream("j"), undefined);
});

test("$RUNPOD_POD_ID is replaced before $ID, so the longer token is never cut in half", () => {
  const urls = new WorkerUrls({ ...templates, postOutput: "http://x/done?pod=$RUNPOD_POD_ID&job=$ID" }, "pod-7");
  assert.equal(urls.jobDone("j1", false), "http://x/done?pod=pod-7&job=j1&isStream=false");
});

test("ping: job_id lists the jobs in progress (commas kept) and is left out when there are none", () => {
  const urls = new WorkerUrls(templates, "w-1");
  assert.equal(urls.ping([], "berth-node/1.0"), `${base}/ping/w-1?runpod_version=berth-node%2F1.0`);
  assert.equal(urls.ping(["a", "b"], "v"), `${base}/ping/w-1?job_id=a,b&runpod_version=v`);
  assert.equal(new WorkerUrls({ ...templates, ping: undefined }, "w").ping([], "v"), undefined);
});

test("withQuery handles a URL ending in ?, one with a query, and one without", () => {
  assert.equal(withQuery("http://x/a?", { k: 1 }), "http://x/a?k=1");
  assert.equal(withQuery("http://x/a?z=2", { k: 1 }), "http://x/a?z=2&k=1");
  assert.equal(withQuery("http://x/a?z=2&", { k: 1 }), "http://x/a?z=2&k=1");
  assert.equal(withQuery("http://x/a", { k: "a b", skip: undefined }), "http://x/a?k=a%20b");
  assert.equal(withQuery("http://x/a?", {}), "http://x/a?");
});

const env = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
  RUNPOD_WEBHOOK_GET_JOB: templates.getJob,
  RUNPOD_WEBHOOK_POST_OUTPUT: templates.postOutput,
  RUNPOD_WEBHOOK_POST_STREAM: templates.postStream,
  RUNPOD_WEBHOOK_PING: templates.ping,
  RUNPOD_AI_API_KEY: "bw_key",
  RUNPOD_POD_ID: "pod-1",
  RUNPOD_ENDPOINT_ID: "ep1",
  RUNPOD_PING_INTERVAL: "2500",
  ...extra,
});

test("the worker environment is read as runpod-python reads it", () => {
  const parsed = readWorkerEnv(env({ RUNPOD_DEBUG_LEVEL: "DEBUG", RUNPOD_POD_HOSTNAME: "box" }));
  assert.deepEqual(parsed, {
    urls: templates,
    workerId: "pod-1",
    workerIdFromEnv: true,
    apiKey: "bw_key",
    endpointId: "ep1",
    pingIntervalMs: 2500,
    hostname: "box",
    logLevel: "debug",
  });
});

test("without RUNPOD_POD_ID a worker id is made up; the ping interval defaults to 10 s", () => {
  const parsed = readWorkerEnv(env({ RUNPOD_POD_ID: undefined, RUNPOD_PING_INTERVAL: undefined }), () => "made-up");
  assert.equal(parsed.workerId, "made-up");
  assert.equal(parsed.workerIdFromEnv, false);
  assert.equal(parsed.pingIntervalMs, 10_000);
  assert.match(readWorkerEnv(env({ RUNPOD_POD_ID: "" })).workerId, /^[0-9a-f-]{36}$/);
});

test("stream and ping URLs are optional; the take and done URLs are not", () => {
  const parsed = readWorkerEnv(env({ RUNPOD_WEBHOOK_POST_STREAM: undefined, RUNPOD_WEBHOOK_PING: undefined }));
  assert.equal(parsed.urls.postStream, undefined);
  assert.equal(parsed.urls.ping, undefined);
  assert.throws(() => readWorkerEnv(env({ RUNPOD_WEBHOOK_GET_JOB: undefined })), (err: Error) => {
    assert.ok(err instanceof WorkerConfigError);
    assert.match(err.message, /RUNPOD_WEBHOOK_GET_JOB is not set/);
    return true;
  });
});

test("a bad variable is named with its rule, all problems at once", () => {
  assert.throws(
    () =>
      readWorkerEnv(
        env({ RUNPOD_WEBHOOK_GET_JOB: "http://cp/job-take/?", RUNPOD_WEBHOOK_POST_OUTPUT: "cp/job-done/$ID?", RUNPOD_PING_INTERVAL: "soon" }),
      ),
    (err: Error) => {
      assert.match(err.message, /RUNPOD_WEBHOOK_GET_JOB must contain \$ID/);
      assert.match(err.message, /RUNPOD_WEBHOOK_POST_OUTPUT must be an http\(s\) URL/);
      assert.match(err.message, /RUNPOD_PING_INTERVAL must be a positive number of milliseconds, got "soon"/);
      return true;
    },
  );
});

test("a tiny ping interval is raised to a floor rather than pinging in a busy loop", () => {
  assert.equal(readWorkerEnv(env({ RUNPOD_PING_INTERVAL: "5" })).pingIntervalMs, 100);
});

test("the SDK version sent to the control plane is package.json's", () => {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8")) as { version: string };
  assert.equal(SDK_VERSION, pkg.version);
});
