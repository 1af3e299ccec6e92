// Worker logs on the Docker runtime, from a real runpod-python worker in a container: what it prints on stdout and
// stderr comes back through the admin API and `berth logs` with its worker id and times, told apart; a worker that
// crashed and whose container is gone stays readable; a job's lines; a follow that ends when its worker stops;
// 404s for what does not exist and 400s naming a bad query field.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { DockerRuntime } from "../helpers/docker-runtime";
import { eventually } from "../helpers/endpoint";
import { ensurePythonWorkerImage } from "../helpers/worker-image";

const BERTH_BIN = path.resolve(__dirname, "../../bin/berth");

interface LogLine {
  workerId: string;
  time: string;
  stream: string;
  line: string;
}

const parseNdjson = (text: string): LogLine[] =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as LogLine);

describe("worker logs on the Docker runtime (runpod-python)", () => {
  let runtime: DockerRuntime;
  let pythonImage: string;
  const cli = async (...args: string[]) =>
    (await promisify(execFile)(process.execPath, [BERTH_BIN, ...args, "--url", runtime.cp.url, "--api-key", runtime.cp.apiKey])).stdout;
  const logs = async (endpointId: string, params: Record<string, string> = {}) => {
    const res = await runtime.api.get(`/admin/endpoints/${endpointId}/logs`, { params, responseType: "text", transformResponse: (x) => x });
    return { status: res.status, type: String(res.headers["content-type"]), text: res.data as string };
  };

  before(async () => {
    pythonImage = await ensurePythonWorkerImage();
    // One attempt per job: a crashed job fails at once, and its worker (flex, nothing queued) is removed, container and all.
    // A wide bound: while its control plane restarts, runpod-python logs each failed job-take in a tight loop (megabytes
    // in seconds), which the default 16 MiB would let push out the lines the restart test looks for.
    runtime = await DockerRuntime.start({ BERTH_MAX_ATTEMPTS: "1", BERTH_LOG_MAX_BYTES_PER_ENDPOINT: String(256 * 1024 * 1024) });
  });
  after(async () => {
    await runtime?.close();
  });

  test("a worker that prints and crashes: its last lines, stdout and stderr apart, in the API and `berth logs` after its container is gone", async () => {
    const ep = await runtime.createEndpoint({ workersMax: 1 }, { imageName: pythonImage });
    const printed = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stdout: ["hello from stdout"], stderr: ["warning on stderr"] } }), 120_000);
    assert.equal(printed.status, "COMPLETED", JSON.stringify(printed));
    const workerId = printed.workerId!;
    const crashed = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stdout: ["about to crash"], stderr: ["fatal: crashing now"] }, crash: 1 }));
    assert.equal(crashed.status, "FAILED", JSON.stringify(crashed));
    assert.equal(crashed.workerId, workerId, "the same worker took it");
    await eventually("the crashed worker's container to be removed", async () => ((await runtime.containers(ep.id)).length === 0 ? true : undefined), 60_000);

    const reply = await logs(ep.id, { worker: workerId });
    assert.equal(reply.status, 200, reply.text);
    assert.match(reply.type, /^application\/x-ndjson/);
    const lines = parseNdjson(reply.text);
    assert.ok(lines.every((l) => l.workerId === workerId), "every line names its worker");
    const times = lines.map((l) => l.time);
    assert.deepEqual(times, [...times].sort(), "oldest first");
    assert.ok(times.every((t) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(t)), times.join(" "));
    const find = (text: string) => lines.find((l) => l.line === text);
    assert.equal(find("hello from stdout")?.stream, "stdout");
    assert.equal(find("warning on stderr")?.stream, "stderr");
    assert.equal(find("about to crash")?.stream, "stdout");
    assert.equal(find("fatal: crashing now")?.stream, "stderr");
    // Its last words on each stream are the crash's: nothing came after os._exit. (Across the two streams the order
    // is the engine's timestamps, taken as it reads each pipe: lines written within a millisecond may swap.)
    assert.equal(lines.filter((l) => l.stream === "stdout").at(-1)?.line, "about to crash");
    assert.equal(lines.filter((l) => l.stream === "stderr").at(-1)?.line, "fatal: crashing now");
    assert.ok(lines.length > 4, "runpod-python's own lines are there too");

    const tail = parseNdjson((await logs(ep.id, { worker: workerId, tail: "2" })).text);
    assert.deepEqual(tail, lines.slice(-2));
    const ofJob = parseNdjson((await logs(ep.id, { job: printed.id })).text).map((l) => l.line);
    assert.ok(ofJob.includes("hello from stdout") && ofJob.includes("warning on stderr"), ofJob.join("\n"));
    assert.ok(!ofJob.includes("about to crash"), "a job's lines end with the job");
    const all = parseNdjson((await logs(ep.id, { since: "10m" })).text);
    assert.ok(all.some((l) => l.line === "fatal: crashing now"));
    assert.deepEqual(parseNdjson((await logs(ep.id, { since: new Date(Date.now() + 60_000).toISOString() })).text), [], "nothing after a time to come");

    const printedByCli = await cli("logs", ep.id, "--worker", workerId);
    assert.match(printedByCli, new RegExp(`^\\S+Z  ${workerId}  stdout   hello from stdout$`, "m"));
    assert.match(printedByCli, new RegExp(`^\\S+Z  ${workerId}  stderr!  fatal: crashing now$`, "m"), "stderr lines are marked");
    const tailByCli = (await cli("logs", ep.id, "--tail", "2")).trim().split("\n");
    assert.equal(tailByCli.length, 2);
    const jobByCli = await cli("logs", ep.id, "--job", printed.id, "--json");
    assert.deepEqual(parseNdjson(jobByCli).map((l) => l.line), ofJob);
  });

  test("`berth logs --follow` prints lines as they come and exits 0 when its worker stops", async () => {
    const ep = await runtime.createEndpoint({ workersMax: 1 }, { imageName: pythonImage });
    const first = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stdout: ["before the follow"] } }), 120_000);
    assert.equal(first.status, "COMPLETED", JSON.stringify(first));

    const child = spawn(process.execPath, [BERTH_BIN, "logs", ep.id, "--worker", first.workerId!, "--follow", "--url", runtime.cp.url, "--api-key", runtime.cp.apiKey]);
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      await eventually("the follow to print the history", () => (out.includes("before the follow") ? true : undefined), 20_000);
      const crashed = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stderr: ["printed while followed"] }, crash: 1 }));
      assert.equal(crashed.status, "FAILED");
      const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 30_000))]);
      assert.equal(code, 0, `berth logs --follow: ${code}; stderr: ${err}`);
      assert.match(out, /stderr!  printed while followed$/m, "a line printed after the follow began");
    } finally {
      child.kill();
    }
  });

  test("a follow of the whole endpoint answers its headers at once and goes on until the client leaves", async () => {
    const ep = await runtime.createEndpoint({ workersMax: 1 }, { imageName: pythonImage });
    const controller = new AbortController();
    const res = await fetch(`${runtime.cp.url}/admin/endpoints/${ep.id}/logs?follow=true`, {
      headers: { authorization: `Bearer ${runtime.cp.apiKey}` },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/x-ndjson/);
    const reader = res.body!.getReader();
    let text = "";
    const job = await runtime.submit(ep.id, { print: { stdout: ["seen live"] } });
    await eventually(
      "the live line",
      async () => {
        const { value } = await reader.read();
        text += Buffer.from(value ?? []).toString();
        return text.includes('"line":"seen live"') ? true : undefined;
      },
      120_000,
    );
    assert.equal((await runtime.ended(ep.id, job)).status, "COMPLETED");
    controller.abort();
  });

  test("a control plane stopped while it follows a container's log exits 0; restarted, it reads on, no line twice", async (t) => {
    const t0 = Date.now();
    const mark = (what: string) => t.diagnostic(`${what} at ${Date.now() - t0} ms`);
    const ep = await runtime.createEndpoint({ workersMin: 1, workersMax: 1 }, { imageName: pythonImage });
    const lineCount = async (text: string) => parseNdjson((await logs(ep.id)).text).filter((l) => l.line === text).length;
    const before = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stdout: ["before the restart"] } }), 120_000);
    assert.equal(before.status, "COMPLETED", JSON.stringify(before));
    mark("first job");
    await eventually("the line in the log store", async () => ((await lineCount("before the restart")) === 1 ? true : undefined), 30_000);
    mark("line");
    assert.equal(await runtime.cp.stop(), 0, "stopping aborts the followed logs cleanly");
    mark("stopped");
    runtime.cp = await runtime.cp.restart();
    mark("restarted");
    const afterRestart = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stdout: ["after the restart"] } }), 60_000);
    assert.equal(afterRestart.workerId, before.workerId, "the same container");
    mark("second job");
    await eventually("the new line in the log store", async () => ((await lineCount("after the restart")) === 1 ? true : undefined), 30_000);
    mark("second line");
    assert.equal(await lineCount("before the restart"), 1, "read on from the last line kept, not again from the start");
  });

  test("unknown endpoint, worker or job: 404 naming it; a bad since or tail: 400 naming the query field", async () => {
    const ep = await runtime.createEndpoint({ workersMax: 1 }, { imageName: pythonImage });
    const noEndpoint = await logs("no-such-endpoint");
    assert.equal(noEndpoint.status, 404);
    assert.match(JSON.parse(noEndpoint.text).message, /endpoint no-such-endpoint does not exist/);
    const noWorker = await logs(ep.id, { worker: "no-such-worker" });
    assert.equal(noWorker.status, 404);
    assert.match(JSON.parse(noWorker.text).message, /worker no-such-worker of endpoint .* does not exist/);
    const noJob = await logs(ep.id, { job: "no-such-job" });
    assert.equal(noJob.status, 404);
    assert.match(JSON.parse(noJob.text).message, /job no-such-job of endpoint .* does not exist/);
    for (const [field, value] of [["since", "yesterday"], ["tail", "-1"], ["tail", "many"], ["follow", "yes"]]) {
      const bad = await logs(ep.id, { [field!]: value! });
      assert.equal(bad.status, 400, `${field}=${value}: ${bad.text}`);
      assert.match(JSON.parse(bad.text).message, new RegExp(`query\\.${field}`), bad.text);
    }
    await assert.rejects(cli("logs", ep.id, "--worker", "no-such-worker"), /HTTP 404: worker no-such-worker of endpoint .* does not exist/);
  });
});
