// `require("berth/sdk/worker")` from a project that depends on Berth: the package's exports map and its built
// JavaScript (npm run build, which npm runs on install as `prepare`), under plain node without a TypeScript
// loader, serving a real job from the control plane.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint } from "../helpers/endpoint";
import { WorkerProcess } from "../helpers/worker-process";

const REPO = path.resolve(__dirname, "../..");

let cp: ControlPlaneProcess;
let project: string;
let worker: WorkerProcess | undefined;

before(async () => {
  cp = await ControlPlaneProcess.start();
  // A user's project with Berth in node_modules, linked the way `npm install <path>` links a local package.
  project = fs.mkdtempSync(path.join(os.tmpdir(), "berth-user-project-"));
  fs.mkdirSync(path.join(project, "node_modules"));
  fs.symlinkSync(REPO, path.join(project, "node_modules", "berth"), "dir");
  fs.copyFileSync(path.join(REPO, "test/fixtures/installed-worker/worker.js"), path.join(project, "worker.js"));
});

after(async () => {
  await worker?.kill();
  await cp?.stop();
  cp?.removeData();
  fs.rmSync(project, { recursive: true, force: true });
});

test("a plain-JavaScript worker requiring berth/sdk/worker serves a job", async () => {
  // Asked of plain node in the project: this test process runs under tsx, which maps `berth` to the sources.
  const resolved = execFileSync(process.execPath, ["-p", 'require.resolve("berth/sdk/worker")'], { cwd: project, encoding: "utf8" }).trim();
  assert.equal(resolved, path.join(REPO, "dist/sdk/worker/index.js"), "the exports map points at the built JavaScript");

  const endpoint = await createEndpoint(cp);
  worker = WorkerProcess.javascript(path.join(project, "worker.js"), endpoint.workerEnv, "installed-worker");
  const res = await apiClient(cp).post(`/v2/${endpoint.id}/runsync`, { input: { n: 21 } }, { params: { wait: 30_000 } });
  assert.equal(res.status, 200, JSON.stringify(res.data));
  assert.equal(res.data.status, "COMPLETED", `${JSON.stringify(res.data)}\nworker said:\n${worker.lines.join("\n")}`);
  assert.deepEqual(res.data.output, { doubled: 42 });
});
