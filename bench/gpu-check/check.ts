// The device check (bench/gpu-check/prepare.sh builds it): Berth's control plane and a worker on Berth's SDK on a
// machine with a real GPU. Inventory and utilization through Berth's own nvidia-smi code; one job doing real GPU
// work through the RunPod API; then the workers view, usage and metrics as an operator reads them. Writes
// summary.json to $OUT.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { detectGpuInventory, sampleGpuUtilization } from "../../server/runtimes/docker/gpu-inventory";

const OUT = process.env.OUT ?? "/tmp/gpucheck-out";
const KEY = "gpu-check-key-0123456789abcdef";
const URL = "http://127.0.0.1:8910";
const here = __dirname;
const node = process.execPath;
const api = async (method: string, p: string, body?: unknown) => {
  const res = await fetch(`${URL}${p}`, { method, headers: { Authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  try {
    return { status: res.status, data: JSON.parse(text) };
  } catch {
    return { status: res.status, data: text };
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const summary: Record<string, unknown> = {};
  const { inventory, warnings } = await detectGpuInventory({});
  summary.inventory = inventory;
  summary.inventoryWarnings = warnings;

  const cpLog = fs.openSync(path.join(OUT, "control-plane.log"), "w");
  const cp = spawn(node, [path.join(here, "berth.js"), "server", "--runtime", "none", "--data-dir", "/tmp/berth-gpu-data", "--api-key", KEY, "--gpu-prices", "NVIDIA H200=0.00125;NVIDIA H100 80GB HBM3=0.00116"], { stdio: ["ignore", cpLog, cpLog] });
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${URL}/healthz`).then((r) => r.ok, () => false))) break;
    await sleep(100);
  }
  const gpuType = inventory.devices[0]?.typeId ?? "NVIDIA H200";
  const template = await api("POST", "/admin/templates", { name: "gpu-check", imageName: "berth/gpu-check:local" });
  const endpoint = await api("POST", "/admin/endpoints", { name: "gpu-check", templateId: template.data.id, gpuTypeIds: [gpuType], workersMax: 1 });
  const id = endpoint.data.id;
  const env = (await api("GET", `/admin/endpoints/${id}/worker-env`)).data.env;
  const workerLog = fs.openSync(path.join(OUT, "worker.log"), "w");
  const worker = spawn(node, [path.join(here, "worker.js")], { env: { ...process.env, ...env, RUNPOD_POD_ID: "gpu-worker-1" }, stdio: ["ignore", workerLog, workerLog] });

  const utilization: Array<{ t: number; percent: Record<string, number> }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const use = await sampleGpuUtilization();
      utilization.push({ t: Date.now(), percent: Object.fromEntries([...use].filter(([k]) => k.startsWith("GPU-"))) });
      await sleep(500);
    }
  })();
  const t0 = Date.now();
  const job = await api("POST", `/v2/${id}/runsync?wait=120000`, { input: { n: 8192, iters: 3000 } });
  summary.runsyncMs = Date.now() - t0;
  sampling = false;
  await sampler;
  summary.job = job.data;
  summary.utilizationPeak = Math.max(0, ...utilization.flatMap((u) => Object.values(u.percent)));
  summary.utilizationSamples = utilization.length;
  summary.overview = (await api("GET", `/admin/endpoints/${id}/overview`)).data;
  summary.usage = (await api("GET", `/admin/usage?endpointId=${id}`)).data;
  const metrics = (await api("GET", "/metrics")).data as string;
  summary.metrics = metrics.split("\n").filter((l: string) => l.startsWith("berth_jobs_total") || l.startsWith("berth_job_execution_seconds_sum") || l.startsWith("berth_job_execution_seconds_count"));
  worker.kill("SIGTERM");
  cp.kill("SIGTERM");
  fs.writeFileSync(path.join(OUT, "summary.json"), JSON.stringify(summary, null, 2));
  console.log(JSON.stringify({ inventory: summary.inventory, job: summary.job, utilizationPeak: summary.utilizationPeak, usage: summary.usage, metrics: summary.metrics }, null, 1));
  await sleep(500);
  process.exit(0);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
