// A job's timeline through the admin API and `berth job`, on real runpod-python workers: a handler's traceback, a
// worker killed mid-job and the run that rescued it, progress updates and stream chunks with their times, sizes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import type { AxiosInstance } from "axios";
import { ControlPlaneProcess, STORES } from "../helpers/control-plane";
import { apiClient, createEndpoint, eventually, type TestEndpoint } from "../helpers/endpoint";
import { WorkerProcess } from "../helpers/worker-process";

const BERTH = path.resolve(__dirname, "../../bin/berth");
const FAST = { BERTH_LONG_POLL_MS: "1000", BERTH_PING_INTERVAL_MS: "1000", BERTH_WORKER_LOST_AFTER_MS: "3000", BERTH_SWEEP_INTERVAL_MS: "100" };
const TERMINAL = ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];

async function berth(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BERTH, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const ms = (iso: string) => Date.parse(iso);

/** Times in the order given, each within the run that produced them. */
function assertInOrderWithin(times: string[], from: string, to: string): void {
  for (let i = 0; i < times.length; i++) {
    assert.ok(ms(times[i]!) >= ms(from) && ms(times[i]!) <= ms(to), `${times[i]} within ${from} .. ${to}`);
    if (i > 0) assert.ok(ms(times[i]!) >= ms(times[i - 1]!), `${times[i]} after ${times[i - 1]}`);
  }
}

for (const store of STORES) {
  describe(`job timeline (${store})`, () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    let cp: ControlPlaneProcess;
    let api: AxiosInstance;
    let plain: TestEndpoint;
    let streaming: TestEndpoint;
    const worker = `py-timeline-${store}`;
    let failedId: string;
    let streamedId: string;

    before(async () => {
      cp = await ControlPlaneProcess.start({ store, env: FAST });
      cleanups.push(async () => (await cp.stop(), await cp.removeData()));
      api = apiClient(cp);
      plain = await createEndpoint(cp);
      streaming = await createEndpoint(cp);
      const workers = [
        WorkerProcess.python("timeline_worker.py", plain.workerEnv, worker),
        WorkerProcess.python("timeline_worker.py", { ...streaming.workerEnv, BERTH_TEST_STREAM: "1" }, `${worker}-stream`),
      ];
      for (const w of workers) cleanups.push(() => w.kill());
    });
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    const timeline = async (ep: TestEndpoint, jobId: string) => {
      const res = await api.get(`/admin/endpoints/${ep.id}/jobs/${jobId}`);
      assert.equal(res.status, 200, JSON.stringify(res.data));
      return res.data;
    };
    const run = async (ep: TestEndpoint, input: unknown): Promise<string> => {
      const res = await api.post(`/v2/${ep.id}/run`, { input });
      assert.equal(res.status, 200, JSON.stringify(res.data));
      return res.data.id;
    };
    const ended = (ep: TestEndpoint, jobId: string) =>
      eventually(`job ${jobId} to end`, async () => {
        const status = (await api.get(`/v2/${ep.id}/status/${jobId}`)).data;
        return TERMINAL.includes(status.status) ? status : undefined;
      }, 60_000);

    test("a handler that raises: its error and traceback as runpod-python sent them, the run that failed, the input cut", async () => {
      const input = { raise: "boom", pad: "x".repeat(5000) };
      failedId = await run(plain, input);
      await ended(plain, failedId);
      const t = await timeline(plain, failedId);
      assert.equal(t.status, "FAILED");
      assert.equal(t.endpointId, plain.id);
      assert.equal(t.error.type, "ValueError");
      assert.equal(t.error.message, "boom");
      assert.match(t.error.traceback, /^Traceback \(most recent call last\):\n/);
      assert.match(t.error.traceback, /in fail\n\s+raise ValueError\(message\)\n[\s\S]*ValueError: boom\n$/);
      assert.equal(t.error.workerId, worker);
      assert.match(t.error.runpodVersion, /^1\.\d+\.\d+/);
      assert.equal(typeof t.error.hostname, "string");

      const json = JSON.stringify(input);
      assert.equal(t.input.bytes, Buffer.byteLength(json));
      assert.equal(t.input.truncated, true);
      assert.equal(t.input.value, undefined);
      assert.ok(json.startsWith(t.input.preview) && Buffer.byteLength(t.input.preview) === 4096, "the first 4 KB");
      assert.equal(t.output, undefined, "runpod-python sends no output with an error");

      assert.equal(t.attempts.length, 1);
      assert.deepEqual(t.attempts[0], {
        number: 1,
        retry: 0,
        workerId: worker,
        takenAt: t.startedAt,
        endedAt: t.finishedAt,
        durationMs: t.executionMs,
        outcome: "failed",
        reason: "ValueError: boom",
      });
      assert.equal(t.delayMs, ms(t.startedAt) - ms(t.createdAt));
      assert.deepEqual(t.progress, { count: 0, shown: [] });
      assert.deepEqual(t.stream, { count: 0, shown: [] });
      assert.deepEqual(t.logs.lines, [], "workers this control plane does not run (--runtime none) have no lines kept");
    });

    test("progress updates appear with their times while the job runs, and a big output is cut with its size", async () => {
      const release = path.join(os.tmpdir(), `berth-release-${crypto.randomUUID()}`);
      cleanups.push(async () => fs.rmSync(release, { force: true }));
      const updates = [{ step: 1 }, { step: 2 }, { step: 3, note: "z".repeat(400) }];
      const jobId = await run(plain, { progress: updates, releaseFile: release, outputBytes: 10_000 });
      const running = await eventually("the three progress updates", async () => {
        const t = await timeline(plain, jobId);
        return t.progress.count === 3 ? t : undefined;
      });
      assert.equal(running.status, "IN_PROGRESS");
      assert.equal(running.attempts.length, 1);
      assert.equal(running.attempts[0].outcome, "running");
      assert.equal(running.attempts[0].workerId, worker);
      assert.equal(running.attempts[0].endedAt, undefined);
      fs.writeFileSync(release, "");
      await ended(plain, jobId);

      const t = await timeline(plain, jobId);
      assert.equal(t.status, "COMPLETED");
      assert.equal(t.attempts[0].outcome, "completed");
      // runpod-python sends each update from a thread of its own: their order is the order they arrived in.
      assertInOrderWithin(t.progress.shown.map((e: { at: string }) => e.at), t.startedAt, t.finishedAt);
      const whole = t.progress.shown.filter((e: { truncated: boolean }) => !e.truncated).map((e: { value: unknown }) => e.value);
      assert.deepEqual(whole.sort((a: { step: number }, b: { step: number }) => a.step - b.step), [{ step: 1 }, { step: 2 }]);
      const cut = t.progress.shown.find((e: { truncated: boolean }) => e.truncated);
      assert.equal(cut.bytes, Buffer.byteLength(JSON.stringify(updates[2])));
      assert.ok(JSON.stringify(updates[2]).startsWith(cut.preview) && Buffer.byteLength(cut.preview) === 256);

      const output = JSON.stringify({ blob: "y".repeat(10_000), workerId: worker });
      assert.equal(t.output.bytes, Buffer.byteLength(output));
      assert.equal(t.output.truncated, true);
      assert.ok(output.startsWith(t.output.preview));
    });

    test("a streaming handler's chunks appear in order with their times, each cut, all counted", async () => {
      const chunks = ["first", "b".repeat(1000), { n: 3 }];
      streamedId = await run(streaming, { chunks });
      await ended(streaming, streamedId);
      const t = await timeline(streaming, streamedId);
      assert.equal(t.status, "COMPLETED");
      assert.equal(t.stream.count, 3);
      assertInOrderWithin(t.stream.shown.map((e: { at: string }) => e.at), t.startedAt, t.finishedAt);
      assert.deepEqual(
        t.stream.shown.map((e: Record<string, unknown>) => ({ ...e, at: undefined })),
        [
          { at: undefined, bytes: 7, truncated: false, value: "first" },
          { at: undefined, bytes: 1002, truncated: true, preview: `"${"b".repeat(255)}` },
          { at: undefined, bytes: 7, truncated: false, value: { n: 3 } },
        ],
      );
    });

    test("a worker killed mid-job: both runs, the lost one requeued with why, the second completed", async () => {
      const ep = await createEndpoint(cp);
      const doomed = WorkerProcess.python("timeline_worker.py", ep.workerEnv, `${worker}-doomed`);
      cleanups.push(() => doomed.kill());
      const jobId = await run(ep, { sleepSeconds: 60 });
      await eventually("the first worker to start the job", async () => {
        const s = (await api.get(`/v2/${ep.id}/status/${jobId}`)).data;
        return s.status === "IN_PROGRESS" && s.workerId === `${worker}-doomed` ? s : undefined;
      });
      await doomed.kill("SIGKILL");
      await eventually("the job back in the queue", async () => {
        const s = (await api.get(`/v2/${ep.id}/status/${jobId}`)).data;
        return s.status === "IN_QUEUE" ? s : undefined;
      });
      const rescuer = WorkerProcess.python("timeline_worker.py", { ...ep.workerEnv, BERTH_TEST_MAX_SLEEP: "0" }, `${worker}-rescuer`);
      cleanups.push(() => rescuer.kill());
      assert.equal((await ended(ep, jobId)).status, "COMPLETED");

      const t = await timeline(ep, jobId);
      assert.deepEqual(
        t.attempts.map((a: Record<string, unknown>) => [a.number, a.workerId, a.outcome]),
        [
          [1, `${worker}-doomed`, "requeued"],
          [2, `${worker}-rescuer`, "completed"],
        ],
      );
      assert.match(t.attempts[0].reason, new RegExp(`^worker ${worker}-doomed lost: no call for over 3000 ms$`));
      assert.ok(ms(t.attempts[0].endedAt) <= ms(t.attempts[1].takenAt));
      assert.equal(t.attempts[1].takenAt, t.startedAt);
      assert.equal(t.attempts[1].endedAt, t.finishedAt);
    });

    test("an unknown endpoint or job is a 404 naming it; a job is found by its id alone; bad ids are a 400", async () => {
      const unknownEndpoint = await api.get(`/admin/endpoints/no-such-endpoint/jobs/${failedId}`);
      assert.equal(unknownEndpoint.status, 404);
      assert.match(unknownEndpoint.data.message, /endpoint no-such-endpoint does not exist/);
      const unknownJob = await api.get(`/admin/endpoints/${plain.id}/jobs/no-such-job`);
      assert.equal(unknownJob.status, 404);
      assert.match(unknownJob.data.message, new RegExp(`job no-such-job does not exist on endpoint ${plain.id}`));
      const otherEndpoints = await api.get(`/admin/endpoints/${plain.id}/jobs/${streamedId}`);
      assert.equal(otherEndpoints.status, 404, "another endpoint's job");
      const nowhere = await api.get("/admin/jobs/no-such-job");
      assert.equal(nowhere.status, 404);
      assert.match(nowhere.data.message, /job no-such-job does not exist on any endpoint/);
      const found = await api.get(`/admin/jobs/${streamedId}`);
      assert.equal(found.status, 200);
      assert.equal(found.data.endpointId, streaming.id);
      const tooLong = await api.get(`/admin/endpoints/${"x".repeat(65)}/jobs/${failedId}`);
      assert.equal(tooLong.status, 400);
      assert.match(tooLong.data.message, /params\.id: /);
    });

    test("`berth job` prints the timeline readably, and the API's JSON with --json", async () => {
      const key = ["--url", cp.url, "--api-key", cp.apiKey];
      const text = await berth("job", failedId, ...key);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^job ${failedId} on endpoint ${plain.id}: FAILED\n`));
      assert.match(text.stdout, /\ninput: 4\.9 KiB, the first 4\.0 KiB shown\n {2}\{"raise":"boom","pad":"xxx/);
      assert.match(text.stdout, new RegExp(`\nerror: ValueError: boom \\(worker ${worker}, host [^,]+, SDK 1\\.\\d+\\.\\d+\\)\n {2}Traceback \\(most recent call last\\):`));
      assert.match(text.stdout, /\nattempts \(1\):\n {2}#\s+WORKER\s+TAKEN\s+ENDED\s+RAN\s+OUTCOME\s+REASON\n/);
      assert.match(text.stdout, new RegExp(`\n {2}1\\s+${worker}\\s+\\S+ \\(\\+[\\d.]+ s\\)\\s+\\S+ \\(\\+[\\d.]+ s\\)\\s+\\d+ ms\\s+failed\\s+ValueError: boom\n`));
      assert.match(text.stdout, /\nprogress updates \(0\):\n/);

      const streamed = await berth("job", streamedId, ...key);
      assert.match(streamed.stdout, /\nstream chunks \(3\):\n {2}AT\s+SIZE\s+CONTENT\n {2}\S+ \(\+[\d.]+ s\)\s+7 B\s+"first"\n {2}\S+ \(\+[\d.]+ s\)\s+1002 B\s+"bbbb+\.\.\.\n/);

      const json = await berth("job", failedId, "--endpoint", plain.id, "--json", ...key);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout), await timeline(plain, failedId));

      const missing = await berth("job", "no-such-job", ...key);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /HTTP 404: job no-such-job does not exist on any endpoint/);
    });
  });
}
