// `berth doctor` as a user runs it: the real CLI as a subprocess, against this host's Docker engine, a dead socket,
// an engine that never answers, a real control plane with wrong and right keys, and the test bed's cluster.
// The verdict rules one by one are in test/server/doctor-checks.test.ts.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint } from "../helpers/endpoint";
import { testbedEnv } from "../helpers/env";
import { testKubeConfig } from "../helpers/kube-runtime";

const BERTH = path.resolve(__dirname, "../../bin/berth");
const SIMULATED_HINT = 'berth server --simulated-gpus "NVIDIA GeForce RTX 4090=2"';
/** Where the engine's "nvidia" device driver looks for its hook besides its PATH (server/doctor/docker-probe.ts). */
const DAEMON_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "berth-doctor-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** PATH without any directory that has `command`: this host as one without it, whatever CI machine runs the test. */
function pathWithout(command: string): string {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter((dir) => dir && !fs.existsSync(path.join(dir, command)))
    .join(path.delimiter);
}

interface DoctorRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `berth doctor ARGS` with the test bed's environment minus the settings doctor reads (each test gives its
 * own), and no nvidia-smi unless `env.PATH` brings one.
 */
function doctor(args: string[], env: Record<string, string | undefined> = {}): Promise<DoctorRun> {
  const base: Record<string, string | undefined> = { ...process.env, PATH: pathWithout("nvidia-smi") };
  for (const name of ["BERTH_RUNTIME", "BERTH_URL", "BERTH_API_KEY", "BERTH_CA_BUNDLE", "BERTH_SIMULATED_GPUS", "BERTH_GPUS"]) delete base[name];
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BERTH, "doctor", ...args], { env: { ...base, ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) : 0;
      resolve({ code: typeof code === "number" ? code : -1, stdout, stderr, ms: Date.now() - started });
    });
  });
}

interface JsonCheck {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  fix: string | null;
  items: string[];
}

function parseJson(run: DoctorRun): { status: string; checks: JsonCheck[] } {
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(`--json printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** The headline of the check `name` and the lines indented under it. */
function block(run: DoctorRun, name: string): { headline: string; lines: string[] } {
  const lines = run.stdout.split("\n");
  const start = lines.findIndex((l) => /^(OK|WARN|FAIL) /.test(l) && l.slice(6).startsWith(name + " "));
  assert.ok(start >= 0, `no "${name}" line in:\n${run.stdout}${run.stderr}`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => !l.startsWith("      "));
  return { headline: lines[start]!, lines: rest.slice(0, end < 0 ? rest.length : end) };
}

const headlineNames = (run: DoctorRun) =>
  run.stdout
    .split("\n")
    .filter((l) => /^(OK|WARN|FAIL) /.test(l))
    .map((l) => l.slice(6).split(/\s{2,}/)[0]);

describe("berth doctor on this host", () => {
  let run: DoctorRun;
  before(async () => {
    run = await doctor([]);
  });

  test("finds no NVIDIA driver or GPU, says so, and suggests --simulated-gpus", () => {
    const driver = block(run, "NVIDIA driver");
    assert.match(driver.headline, /^WARN\s+NVIDIA driver\s+nvidia-smi not found: no NVIDIA driver on this host/);
    assert.ok(driver.lines.some((l) => l.includes("fix: install NVIDIA's driver") && l.includes(SIMULATED_HINT)), driver.lines.join("\n"));
    const gpus = block(run, "GPUs");
    assert.match(gpus.headline, /^WARN\s+GPUs\s+no NVIDIA GPU found on this host/);
    assert.ok(gpus.lines.some((l) => l.includes(`fix: without GPUs, try Berth with simulated ones: ${SIMULATED_HINT}`)), gpus.lines.join("\n"));
    assert.ok(gpus.lines.some((l) => l.includes('pulumi config set simulatedGpus "NVIDIA GeForce RTX 4090=2"')), "and the Pulumi program's way");
  });

  test("the Docker engine is OK, with its release and API version", () => {
    const engine = block(run, "Docker engine");
    const host = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
    assert.match(engine.headline, new RegExp(`^OK\\s+Docker engine\\s+${host.replace(/[/.]/g, "\\$&")}: Docker \\S+, API 1\\.\\d+$`));
    assert.deepEqual(engine.lines, []);
  });

  test("free disk is measured where the engine keeps its images", () => {
    assert.match(block(run, "Disk for images").headline, /^(OK|WARN)\s+Disk for images\s+[\d.]+ [KMGT]?i?B free of [\d.]+ [KMGT]?i?B at \//);
  });

  test("no check FAILs, so the exit status is 0; the last line counts the verdicts", () => {
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout.trimEnd().split("\n").at(-1)!, /^\d+ OK, \d+ WARN, 0 FAIL$/);
    assert.equal(run.stderr, "");
  });

  test("--json has one entry per check, with the same verdicts as the text", async () => {
    const json = await doctor(["--json"]);
    assert.equal(json.code, 0, json.stderr);
    const document = parseJson(json);
    assert.deepEqual(
      document.checks.map((c) => c.name),
      ["Docker engine", "NVIDIA driver", "NVIDIA container toolkit", "GPUs", "Disk for images", "Control plane"],
    );
    assert.deepEqual(document.checks.map((c) => c.name), headlineNames(run));
    for (const check of document.checks) {
      assert.deepEqual(Object.keys(check).sort(), ["detail", "fix", "items", "name", "status"]);
      assert.equal(check.fix === null, check.status === "ok", JSON.stringify(check));
      assert.match(block(run, check.name).headline, new RegExp(`^${check.status.toUpperCase()} `));
    }
    assert.equal(document.checks.find((c) => c.name === "GPUs")!.status, "warn");
    assert.ok(document.checks.find((c) => c.name === "GPUs")!.fix!.includes(SIMULATED_HINT));
  });
});

describe("berth doctor with a dead Docker socket", () => {
  const socket = `unix:///tmp/berth-doctor-${crypto.randomBytes(6).toString("hex")}.sock`;

  test("FAILs the Docker engine with the fix, and exits 1", async () => {
    const run = await doctor([], { DOCKER_HOST: socket });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const engine = block(run, "Docker engine");
    assert.match(engine.headline, new RegExp(`^FAIL\\s+Docker engine\\s+Docker engine at ${socket.replace(/[/.]/g, "\\$&")}: GET /version failed: engine unreachable \\(ENOENT\\)`));
    assert.deepEqual(engine.lines, [`      fix: start the Docker engine (sudo systemctl start docker), or set DOCKER_HOST to where it listens (now ${socket})`]);
    // The engine did not say where it keeps images: the disk is measured at / and the line says so.
    assert.match(block(run, "Disk for images").headline, /at \/ \(the Docker engine did not say where it keeps images; measured \/ instead\)/);
    assert.match(run.stdout, /\d+ OK, \d+ WARN, 1 FAIL\n$/);
  });

  test("--json says the same, and exits 1", async () => {
    const run = await doctor(["--json"], { DOCKER_HOST: socket });
    assert.equal(run.code, 1, run.stderr);
    const document = parseJson(run);
    assert.equal(document.status, "fail");
    const engine = document.checks.find((c) => c.name === "Docker engine")!;
    assert.equal(engine.status, "fail");
    assert.match(engine.detail, /engine unreachable \(ENOENT\)/);
    assert.match(engine.fix!, /^start the Docker engine \(sudo systemctl start docker\)/);
  });
});

describe("berth doctor against engines that misbehave", () => {
  test("an engine that accepts the connection and never answers FAILs within --timeout", async () => {
    const file = path.join(scratch, "silent.sock");
    const held: net.Socket[] = [];
    const silent = net.createServer((conn) => held.push(conn)).listen(file);
    try {
      const run = await doctor(["--timeout", "1"], { DOCKER_HOST: `unix://${file}` });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(block(run, "Docker engine").headline, /^FAIL\s+Docker engine\s+.*no answer within 1(000 ms| s)/);
      assert.ok(run.ms < 20_000, `doctor took ${run.ms} ms`);
    } finally {
      held.forEach((c) => c.destroy());
      silent.close();
    }
  });

  test("an engine older than API 1.40 FAILs; a root dir not visible here is said, / measured instead", async () => {
    const file = path.join(scratch, "old-engine.sock");
    const engine = http
      .createServer((req, res) => {
        const body = req.url === "/version" ? { Version: "18.09.9", ApiVersion: "1.39" } : req.url === "/info" ? { MemTotal: 1, DockerRootDir: "/nonexistent/docker-root", Runtimes: { runc: {} } } : undefined;
        res.writeHead(body ? 200 : 404, { "content-type": "application/json" }).end(JSON.stringify(body ?? { message: "page not found" }));
      })
      .listen(file);
    try {
      const run = await doctor([], { DOCKER_HOST: `unix://${file}` });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      const old = block(run, "Docker engine");
      assert.match(old.headline, /^FAIL\s+Docker engine\s+unix:\/\/.*old-engine\.sock: Docker 18\.09\.9, API 1\.39, older than API 1\.40 \(Docker 19\.03\)/);
      assert.deepEqual(old.lines, ["      fix: upgrade Docker Engine: https://docs.docker.com/engine/install/"]);
      assert.match(block(run, "Disk for images").headline, /at \/ \(the engine's root dir \/nonexistent\/docker-root is not visible from here \(ENOENT\); measured \/ instead\)/);
    } finally {
      engine.close();
    }
  });
});

describe("berth doctor on a GPU host (a stand-in nvidia-smi)", () => {
  const bin = path.join(scratch, "gpu-bin");
  before(() => {
    fs.mkdirSync(bin);
    // Answers the one query the control plane makes, as nvidia-smi does: an H100 Berth knows and a GPU it does not.
    fs.writeFileSync(
      path.join(bin, "nvidia-smi"),
      `#!/bin/sh
[ "$1" = "--query-gpu=index,uuid,name" ] && [ "$2" = "--format=csv,noheader" ] || { echo "unexpected arguments: $*" >&2; exit 2; }
echo "0, GPU-8f1b0000-aaaa-bbbb-cccc-000000000000, NVIDIA H100 80GB HBM3"
echo "1, GPU-22222222-aaaa-bbbb-cccc-000000000001, Tesla T4"
`,
      { mode: 0o755 },
    );
  });

  test("lists the GPUs with their RunPod type ids, and WARNs naming the one Berth does not know", async () => {
    const run = await doctor([], { PATH: `${bin}${path.delimiter}${pathWithout("nvidia-smi")}` });
    assert.match(block(run, "NVIDIA driver").headline, /^OK\s+NVIDIA driver\s+nvidia-smi answers: 2 GPUs$/);
    const gpus = block(run, "GPUs");
    assert.match(gpus.headline, /^WARN\s+GPUs\s+1 x NVIDIA H100 80GB HBM3, 1 not in Berth's GPU table$/);
    assert.equal(gpus.lines[0], '      - GPU-8f1b0000-aaaa-bbbb-cccc-000000000000: RunPod GPU type "NVIDIA H100 80GB HBM3" (80 GB, pool ADA_80_PRO)');
    assert.match(gpus.lines[1]!, /GPU 1 \(GPU-22222222-aaaa-bbbb-cccc-000000000001\) is a "Tesla T4", which is not in Berth's GPU table/);
    assert.match(gpus.lines[2]!, /fix: .*berth server --gpus "<UUID>=<GPU type>"/);
  });

  test("GPUs without the NVIDIA Container Toolkit FAIL: Docker could not hand them to workers", async (t) => {
    if (DAEMON_PATH.some((dir) => fs.existsSync(path.join(dir, "nvidia-container-runtime-hook")))) {
      t.skip("this host has the NVIDIA Container Toolkit installed");
      return;
    }
    const run = await doctor([], { PATH: `${bin}${path.delimiter}${pathWithout("nvidia-smi")}` });
    assert.equal(run.code, 1, run.stdout);
    const toolkit = block(run, "NVIDIA container toolkit");
    assert.match(toolkit.headline, /^FAIL\s+NVIDIA container toolkit\s+none found .*: Docker cannot give workers this host's GPUs$/);
    assert.match(toolkit.lines.join("\n"), /fix: install the NVIDIA Container Toolkit and restart Docker: sudo apt-get install -y nvidia-container-toolkit/);
  });

  test("with the toolkit's hook where the engine finds it, the toolkit line is OK", async () => {
    const hook = path.join(bin, "nvidia-container-runtime-hook");
    fs.writeFileSync(hook, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const run = await doctor([], { PATH: `${bin}${path.delimiter}${pathWithout("nvidia-smi")}` });
    assert.match(block(run, "NVIDIA container toolkit").headline, new RegExp(`^OK\\s+NVIDIA container toolkit\\s+${hook.replace(/[/.]/g, "\\$&")} \\(Docker's "nvidia" device driver`));
  });
});

describe("berth doctor and a control plane", () => {
  let cp: ControlPlaneProcess;
  before(async () => {
    cp = await ControlPlaneProcess.start();
  });
  after(async () => {
    await cp?.stop();
    cp?.removeData();
  });

  test("a wrong key FAILs naming HTTP 401 and the fix, exit status 1", async () => {
    const run = await doctor(["--url", cp.url, "--api-key", "not-a-key-of-this-control-plane"]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const check = block(run, "Control plane");
    assert.match(check.headline, new RegExp(`^FAIL\\s+Control plane\\s+${cp.url.replace(/[/.]/g, "\\$&")}: the key was refused: HTTP 401: API key not accepted`));
    assert.match(check.lines.join("\n"), /fix: use a key of this control plane: .*berth keys create/);
    const json = parseJson(await doctor(["--json", "--url", cp.url, "--api-key", "not-a-key-of-this-control-plane"]));
    assert.equal(json.checks.find((c) => c.name === "Control plane")!.status, "fail");
  });

  test("the right key is OK; BERTH_URL and BERTH_API_KEY work as for the other commands", async () => {
    const run = await doctor(["--url", cp.url, "--api-key", cp.apiKey]);
    assert.match(block(run, "Control plane").headline, /^OK\s+Control plane\s+.*: up, the key may read the admin API \(\d+ endpoints?\)$/);
    assert.equal(run.code, 0, run.stdout);
    const fromEnv = await doctor([], { BERTH_URL: cp.url, BERTH_API_KEY: cp.apiKey });
    assert.match(block(fromEnv, "Control plane").headline, /^OK\s+Control plane/);
  });

  test("a run key is accepted but may not read the admin API: WARN naming its scope", async () => {
    const endpoint = await createEndpoint(cp);
    const created = await apiClient(cp).post("/admin/keys", { name: "client", scope: "run", endpointIds: [endpoint.id] });
    assert.equal(created.status, 201, JSON.stringify(created.data));
    const run = await doctor(["--url", cp.url, "--api-key", created.data.key]);
    assert.match(block(run, "Control plane").headline, /^WARN\s+Control plane\s+.*the key is accepted, but its scope \(run\) may not read the admin API: HTTP 403/);
  });

  test("no control plane listening FAILs; no URL at all is a WARN, not checked", async () => {
    const closed = await freePort();
    const run = await doctor(["--url", `http://127.0.0.1:${closed}`, "--api-key", cp.apiKey]);
    assert.equal(run.code, 1);
    assert.match(block(run, "Control plane").headline, /^FAIL\s+Control plane\s+http:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);
    const none = await doctor([]);
    assert.match(block(none, "Control plane").headline, /^WARN\s+Control plane\s+not checked: no control plane URL given$/);
  });
});

describe("berth doctor on Kubernetes", () => {
  test("reports each node's nvidia.com/gpu capacity and product label, and leaves this host's Docker out", async () => {
    const kubeconfig = testbedEnv("BERTH_KUBECONFIG");
    const run = await doctor(["--runtime", "kubernetes", "--kubeconfig", kubeconfig]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(headlineNames(run), ["Kubernetes API", "Kubernetes GPU capacity", "Kubernetes GPU labels", "Control plane"]);

    // What the cluster says, read here through the API, must be what doctor reports, node by node.
    const nodes = (await testKubeConfig().makeApiClient(CoreV1Api).listNode()).items;
    const gpuNodes = nodes.filter((n) => Number(n.status?.capacity?.["nvidia.com/gpu"] ?? 0) > 0);
    assert.ok(gpuNodes.length >= 3, "the test bed has fake GPU nodes");
    assert.match(block(run, "Kubernetes API").headline, new RegExp(`^OK\\s+Kubernetes API\\s+https://\\S+ namespace \\S+: Kubernetes v[\\d.]+, ${nodes.length} nodes$`));
    const capacity = block(run, "Kubernetes GPU capacity");
    assert.match(capacity.headline, new RegExp(`^OK\\s+Kubernetes GPU capacity\\s+\\d+ allocatable nvidia\\.com/gpu on ${gpuNodes.length} of ${nodes.length} nodes$`));
    const labels = block(run, "Kubernetes GPU labels");
    for (const node of gpuNodes) {
      const name = node.metadata!.name!;
      const [cap, alloc] = [node.status!.capacity!["nvidia.com/gpu"], node.status!.allocatable!["nvidia.com/gpu"]];
      assert.ok(capacity.lines.includes(`      - ${name}: nvidia.com/gpu capacity ${cap}, allocatable ${alloc}`), `${name} in:\n${capacity.lines.join("\n")}`);
      const product = node.metadata!.labels!["nvidia.com/gpu.product"]!;
      assert.ok(labels.lines.some((l) => l.startsWith(`      - ${name}: nvidia.com/gpu.product=${product}, RunPod GPU type "`)), `${name} in:\n${labels.lines.join("\n")}`);
    }
    assert.ok(labels.lines.includes('      - gpu-h100-0: nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3, RunPod GPU type "NVIDIA H100 80GB HBM3"'), labels.lines.join("\n"));
  });

  test("the server's settings BERTH_RUNTIME and BERTH_KUBECONFIG bring in the same checks, as JSON too", async () => {
    const run = await doctor(["--json"], { BERTH_RUNTIME: "kubernetes", BERTH_KUBECONFIG: testbedEnv("BERTH_KUBECONFIG") });
    const document = parseJson(run);
    assert.deepEqual(
      document.checks.map((c) => [c.name, c.status]),
      [
        ["Kubernetes API", "ok"],
        ["Kubernetes GPU capacity", "ok"],
        ["Kubernetes GPU labels", "ok"],
        ["Control plane", "warn"],
      ],
    );
    assert.ok(document.checks[1]!.items.some((i) => /^gpu-rtx4090-0: nvidia\.com\/gpu capacity \d+, allocatable \d+$/.test(i)));
  });

  test("an API server that is not there FAILs the Kubernetes API check and exits 1", async () => {
    const kubeconfig = path.join(scratch, "dead-kubeconfig.yaml");
    fs.writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{ name: dead, cluster: { server: "https://127.0.0.1:${await freePort()}", insecure-skip-tls-verify: true } }]
users: [{ name: dead, user: { token: nothing } }]
contexts: [{ name: dead, context: { cluster: dead, user: dead } }]
current-context: dead
`,
    );
    const run = await doctor(["--runtime", "kubernetes", "--kubeconfig", kubeconfig, "--timeout", "5"]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const api = block(run, "Kubernetes API");
    assert.match(api.headline, /^FAIL\s+Kubernetes API\s+https:\/\/127\.0\.0\.1:\d+ namespace default: .*(ECONNREFUSED|failed)/);
    assert.match(api.lines.join("\n"), /fix: check the kubeconfig .*kubectl get nodes/);
    assert.deepEqual(headlineNames(run), ["Kubernetes API", "Control plane"]);
  });
});

/** A loopback port nothing listens on (it was free a moment ago). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
