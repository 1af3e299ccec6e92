// berth doctor's verdicts, from hand-written facts: every OK / WARN / FAIL rule and its fix, and both renderings.
// test/server/doctor.test.ts runs the real command against real (and dead) engines, clusters and control planes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compareApiVersions, judge, overall, type CheckResult } from "../../server/doctor/checks";
import type { DoctorFacts, GpuFacts, KubeNodeFacts } from "../../server/doctor/facts";
import { jsonReport, textReport } from "../../server/doctor/report";

const GIB = 1024 ** 3;
const NO_DRIVER: GpuFacts = { driver: { ok: true, value: { installed: false } } };
const TWO_H100: GpuFacts = {
  driver: {
    ok: true,
    value: {
      installed: true,
      devices: [
        { id: "GPU-0", typeId: "NVIDIA H100 80GB HBM3" },
        { id: "GPU-1", typeId: "NVIDIA H100 80GB HBM3" },
      ],
      unknown: [],
    },
  },
};

/** A healthy Docker host without GPUs: each test changes the one fact it is about. */
function dockerHost(overrides: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    runtime: "docker",
    docker: {
      host: "unix:///var/run/docker.sock",
      version: { ok: true, value: { version: "27.3.1", apiVersion: "1.47" } },
      info: { ok: true, value: { rootDir: "/var/lib/docker", runtimes: ["runc"], cdiSpecDirs: [] } },
    },
    gpus: NO_DRIVER,
    toolkit: { cdiSpecs: [] },
    disk: { ok: true, value: { path: "/var/lib/docker", freeBytes: 100 * GIB, totalBytes: 500 * GIB } },
    ...overrides,
  };
}

function check(facts: DoctorFacts, name: string): CheckResult {
  const found = judge(facts).find((c) => c.name === name);
  assert.ok(found, `no check named ${name}: ${judge(facts).map((c) => c.name).join(", ")}`);
  return found;
}

function assertVerdict(result: CheckResult, status: CheckResult["status"], detail: RegExp, fix?: RegExp): void {
  assert.equal(result.status, status, JSON.stringify(result));
  assert.match(result.detail, detail);
  if (status === "ok") assert.equal(result.fix, undefined);
  else assert.match(result.fix ?? "", fix ?? /./);
}

describe("Docker engine", () => {
  test("API versions compare as numbers, not strings", () => {
    assert.ok(compareApiVersions("1.9", "1.41") < 0);
    assert.ok(compareApiVersions("1.41", "1.40") > 0);
    assert.equal(compareApiVersions("1.41", "1.41"), 0);
  });

  test("OK names the engine, its release and API version", () => {
    assertVerdict(check(dockerHost(), "Docker engine"), "ok", /^unix:\/\/\/var\/run\/docker\.sock: Docker 27\.3\.1, API 1\.47$/);
  });

  test("before API 1.40 (no DeviceRequests) FAIL; 1.40 WARN; both say to upgrade", () => {
    const at = (apiVersion: string) =>
      check(dockerHost({ docker: { host: "unix:///d.sock", version: { ok: true, value: { version: "x", apiVersion } } } }), "Docker engine");
    assertVerdict(at("1.39"), "fail", /older than API 1\.40 \(Docker 19\.03\).*DeviceRequests/, /upgrade Docker Engine/);
    assertVerdict(at("1.40"), "warn", /older than API 1\.41 \(Docker 20\.10\)/, /upgrade Docker Engine/);
    assertVerdict(at("1.41"), "ok", /API 1\.41$/);
  });

  test("unreachable FAILs with the fix for the cause: not running, no permission, a bad DOCKER_HOST", () => {
    const failing = (error: string) => check(dockerHost({ docker: { host: "unix:///d.sock", version: { ok: false, error } } }), "Docker engine");
    assertVerdict(failing("engine unreachable (ECONNREFUSED)"), "fail", /ECONNREFUSED/, /systemctl start docker.*DOCKER_HOST.*now unix:\/\/\/d\.sock/);
    assertVerdict(failing("engine unreachable (EACCES)"), "fail", /EACCES/, /usermod -aG docker/);
    assertVerdict(failing("DOCKER_HOST=foo is not a URL"), "fail", /not a URL/, /set DOCKER_HOST to unix:\/\/\/var\/run\/docker\.sock or tcp:/);
  });
});

describe("NVIDIA driver and GPUs", () => {
  test("no nvidia-smi: both WARN, naming --simulated-gpus as the way to try Berth without GPUs", () => {
    const facts = dockerHost();
    assertVerdict(check(facts, "NVIDIA driver"), "warn", /nvidia-smi not found/, /ubuntu-drivers.*--simulated-gpus "NVIDIA GeForce RTX 4090=2"/);
    assertVerdict(check(facts, "GPUs"), "warn", /no NVIDIA GPU found/, /berth server --simulated-gpus "NVIDIA GeForce RTX 4090=2"/);
    assert.equal(overall(judge(facts)), "warn");
  });

  test("a failing nvidia-smi FAILs with the driver fix; the GPU line points to it rather than failing twice", () => {
    const facts = dockerHost({ gpus: { driver: { ok: false, error: "nvidia-smi failed (exit 9): NVIDIA-SMI has failed" } } });
    assertVerdict(check(facts, "NVIDIA driver"), "fail", /NVIDIA-SMI has failed/, /nvidia-smi lists the GPUs.*--gpus/);
    assertVerdict(check(facts, "GPUs"), "warn", /nvidia-smi failed/);
  });

  test("GPUs are listed with their RunPod type ids; one the table does not know WARNs, named", () => {
    const ok = check(dockerHost({ gpus: TWO_H100 }), "GPUs");
    assertVerdict(ok, "ok", /^2 x NVIDIA H100 80GB HBM3$/);
    assert.deepEqual(ok.items, [
      'GPU-0: RunPod GPU type "NVIDIA H100 80GB HBM3" (80 GB, pool ADA_80_PRO)',
      'GPU-1: RunPod GPU type "NVIDIA H100 80GB HBM3" (80 GB, pool ADA_80_PRO)',
    ]);
    const unknown = 'GPU 1 (GPU-x) is a "Tesla T4", which is not in Berth\'s GPU table; it is left out of the inventory';
    const mixed = check(
      dockerHost({ gpus: { driver: { ok: true, value: { installed: true, devices: [{ id: "GPU-0", typeId: "NVIDIA L4" }], unknown: [unknown] } } } }),
      "GPUs",
    );
    assertVerdict(mixed, "warn", /1 x NVIDIA L4, 1 not in Berth's GPU table/, /--gpus "<UUID>=<GPU type>"/);
    assert.ok(mixed.items?.includes(unknown));
    assertVerdict(check(dockerHost({ gpus: TWO_H100 }), "NVIDIA driver"), "ok", /nvidia-smi answers: 2 GPUs/);
  });
});

describe("NVIDIA container toolkit", () => {
  const hook = "/usr/bin/nvidia-container-runtime-hook";
  test("GPUs without any toolkit FAIL: Docker could not give them to workers", () => {
    const facts = dockerHost({ gpus: TWO_H100 });
    assertVerdict(check(facts, "NVIDIA container toolkit"), "fail", /none found.*cannot give workers/, /apt-get install -y nvidia-container-toolkit.*nvidia-ctk runtime configure/);
    assert.equal(overall(judge(facts)), "fail");
  });

  test("no GPUs and no toolkit only WARNs: not needed yet", () => {
    assertVerdict(check(dockerHost(), "NVIDIA container toolkit"), "warn", /not needed until this host has NVIDIA GPUs/);
  });

  test("the hook Docker's nvidia device driver runs is OK; a runtime or CDI spec without it WARNs", () => {
    assertVerdict(check(dockerHost({ gpus: TWO_H100, toolkit: { hook, cdiSpecs: [] } }), "NVIDIA container toolkit"), "ok", /nvidia-container-runtime-hook/);
    const runtimeOnly = dockerHost({ gpus: TWO_H100, toolkit: { cdiSpecs: ["/etc/cdi/nvidia.yaml"] } });
    runtimeOnly.docker!.info = { ok: true, value: { runtimes: ["runc", "nvidia"], cdiSpecDirs: [] } };
    assertVerdict(check(runtimeOnly, "NVIDIA container toolkit"), "warn", /"nvidia" runtime; CDI specs of nvidia\.com\/gpu: \/etc\/cdi\/nvidia\.yaml, but no nvidia-container-runtime-hook/);
  });

  test("an engine on another machine: not checked from here", () => {
    const remote = dockerHost({ toolkit: undefined });
    remote.docker!.host = "tcp://gpu-box:2376";
    assertVerdict(check(remote, "NVIDIA container toolkit"), "warn", /not checked: the Docker engine at tcp:\/\/gpu-box:2376 is on another machine/);
  });
});

describe("disk for images", () => {
  const disk = (freeGib: number, fallback?: string) =>
    check(dockerHost({ disk: { ok: true, value: { path: fallback ? "/" : "/var/lib/docker", freeBytes: freeGib * GIB, totalBytes: 500 * GIB, fallback } } }), "Disk for images");
  test("below 2 GiB FAIL, below 20 GiB WARN, else OK; the fix frees or moves the engine's data", () => {
    assertVerdict(disk(1), "fail", /1\.0 GiB free of 500 GiB at \/var\/lib\/docker: below 2\.0 GiB/, /docker image prune -a.*data-root/);
    assertVerdict(disk(10), "warn", /below 20 GiB; a vLLM worker image alone is about 10 GB/, /docker image prune -a/);
    assertVerdict(disk(50), "ok", /^50 GiB free of 500 GiB at \/var\/lib\/docker$/);
  });
  test("a root dir not visible from here is said, with / measured instead", () => {
    assertVerdict(disk(50, "the engine's root dir /var/lib/docker is not visible from here (ENOENT)"), "ok", /at \/ \(the engine's root dir .* not visible from here \(ENOENT\); measured \/ instead\)/);
  });
  test("not measurable (a remote engine) WARNs", () => {
    assertVerdict(check(dockerHost({ disk: { ok: false, error: "the Docker engine at tcp://x:2376 is on another machine" } }), "Disk for images"), "warn", /not checked: .*another machine/, /docker system df/);
  });
});

describe("control plane", () => {
  const url = "http://127.0.0.1:8910";
  const withKey = (status: number, extra: Record<string, unknown> = {}) =>
    check(dockerHost({ controlPlane: { url, health: { ok: true, value: { status: 200 } }, keyCheck: { ok: true, value: { status, ...extra } } } }), "Control plane");

  test("no URL: WARN not checked, saying how to check it", () => {
    assertVerdict(check(dockerHost(), "Control plane"), "warn", /not checked/, /berth doctor --url .* --api-key|BERTH_URL/);
  });
  test("unreachable FAILs; up without a key WARNs", () => {
    assertVerdict(check(dockerHost({ controlPlane: { url, health: { ok: false, error: "connect ECONNREFUSED" } } }), "Control plane"), "fail", /ECONNREFUSED/, /berth server/);
    assertVerdict(check(dockerHost({ controlPlane: { url, health: { ok: true, value: { status: 200 } } } }), "Control plane"), "warn", /key was not checked/, /--api-key/);
  });
  test("401 FAILs naming the status and the fix; 403 (a run key) WARNs; 200 is OK", () => {
    assertVerdict(withKey(401, { message: "API key not accepted" }), "fail", /the key was refused: HTTP 401: API key not accepted/, /berth keys create/);
    assertVerdict(withKey(403, { scope: "run", message: "has scope run" }), "warn", /scope \(run\) may not read the admin API: HTTP 403/, /admin key/);
    assertVerdict(withKey(200, { endpoints: 1 }), "ok", /up, the key may read the admin API \(1 endpoint\)/);
    assertVerdict(withKey(500, { message: "boom" }), "fail", /HTTP 500: boom/);
  });
});

describe("Kubernetes", () => {
  const node = (name: string, gpus: number, product?: string, allocatable = gpus): KubeNodeFacts => ({ name, gpuCapacity: gpus, gpuAllocatable: allocatable, product });
  const cluster = (nodes: KubeNodeFacts[]): DoctorFacts => ({
    runtime: "kubernetes",
    kubernetes: { server: "https://k:6443 namespace default", version: { ok: true, value: "v1.31.0" }, nodes: { ok: true, value: nodes } },
  });

  test("on the Kubernetes runtime the Docker host is not checked", () => {
    assert.deepEqual(
      judge(cluster([])).map((c) => c.name),
      ["Kubernetes API", "Kubernetes GPU capacity", "Kubernetes GPU labels", "Control plane"],
    );
  });

  test("GPU nodes with known product labels: OK, each node's capacity and RunPod type listed", () => {
    const facts = cluster([node("cpu-0", 0), node("h100-0", 8, "NVIDIA-H100-80GB-HBM3", 7)]);
    const capacity = check(facts, "Kubernetes GPU capacity");
    assertVerdict(capacity, "ok", /^7 allocatable nvidia\.com\/gpu on 1 of 2 nodes$/);
    assert.deepEqual(capacity.items, ["h100-0: nvidia.com/gpu capacity 8, allocatable 7"]);
    const labels = check(facts, "Kubernetes GPU labels");
    assertVerdict(labels, "ok", /1 GPU node, each labelled/);
    assert.deepEqual(labels.items, ['h100-0: nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3, RunPod GPU type "NVIDIA H100 80GB HBM3"']);
  });

  test("no node advertises nvidia.com/gpu: WARN, install the device plugin", () => {
    assertVerdict(check(cluster([node("cpu-0", 0)]), "Kubernetes GPU capacity"), "warn", /no node of 1 advertises nvidia\.com\/gpu/, /gpu-operator/);
    assertVerdict(check(cluster([node("cpu-0", 0)]), "Kubernetes GPU labels"), "warn", /no node has the nvidia\.com\/gpu\.product label/, /feature discovery/);
  });

  test("a GPU node without the product label, or with a product Berth does not know: WARN naming it", () => {
    const labels = check(cluster([node("a", 4), node("b", 2, "NVIDIA-Quadro-Foo")]), "Kubernetes GPU labels");
    assertVerdict(labels, "warn", /no product label on a; products Berth's GPU table does not know on b \(NVIDIA-Quadro-Foo\)/, /kubectl label node <node> nvidia\.com\/gpu\.product=.*GET \/admin\/gpu-types/);
    assert.deepEqual(labels.items, ["a: no nvidia.com/gpu.product label", "b: nvidia.com/gpu.product=NVIDIA-Quadro-Foo, not in Berth's GPU table"]);
  });

  test("a device plugin with nothing allocatable WARNs", () => {
    assertVerdict(check(cluster([node("h", 8, "NVIDIA-H100-80GB-HBM3", 0)]), "Kubernetes GPU capacity"), "warn", /none allocatable on h/, /device plugin/);
  });

  test("an unreachable API FAILs; a kubeconfig that may not list nodes WARNs", () => {
    const down: DoctorFacts = { runtime: "kubernetes", kubernetes: { server: "https://k:6443", version: { ok: false, error: "connect ECONNREFUSED" } } };
    assertVerdict(check(down, "Kubernetes API"), "fail", /https:\/\/k:6443: connect ECONNREFUSED/, /kubectl get nodes/);
    assert.equal(overall(judge(down)), "fail");
    const forbidden: DoctorFacts = {
      runtime: "kubernetes",
      kubernetes: { server: "https://k:6443", version: { ok: true, value: "v1.31.0" }, nodes: { ok: false, error: "nodes is forbidden", status: 403 } },
    };
    assertVerdict(check(forbidden, "Kubernetes API"), "warn", /may not list nodes/, /ClusterRole/);
  });
});

describe("rendering", () => {
  const checks = judge(dockerHost({ gpus: TWO_H100 }));

  test("text: one headline per check starting with its status, items and fix indented under it, counts last", () => {
    const lines = textReport(checks).trimEnd().split("\n");
    const headlines = lines.filter((l) => /^(OK|WARN|FAIL) /.test(l));
    assert.equal(headlines.length, checks.length);
    checks.forEach((c, i) => assert.ok(headlines[i]!.startsWith(`${{ ok: "OK", warn: "WARN", fail: "FAIL" }[c.status]} `) && headlines[i]!.includes(c.name)));
    assert.ok(lines.includes("      fix: " + check(dockerHost({ gpus: TWO_H100 }), "NVIDIA container toolkit").fix));
    assert.ok(lines.some((l) => l.startsWith("      - GPU-0: ")));
    assert.equal(lines.at(-1), `${checks.filter((c) => c.status === "ok").length} OK, 1 WARN, 1 FAIL`);
  });

  test("JSON: every check with name, status, detail, fix (null when OK) and items", () => {
    const document = JSON.parse(jsonReport(checks));
    assert.equal(document.status, "fail");
    assert.equal(document.checks.length, checks.length);
    for (const [i, entry] of document.checks.entries()) {
      assert.deepEqual(Object.keys(entry), ["name", "status", "detail", "fix", "items"]);
      assert.equal(entry.name, checks[i]!.name);
      assert.equal(entry.fix === null, entry.status === "ok");
    }
  });
});
