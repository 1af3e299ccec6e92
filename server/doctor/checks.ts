/**
 * `berth doctor`'s verdicts: the probes' facts (facts.ts) in, one result per check out, each OK, WARN or FAIL with
 * what was found and, unless OK, the fix. No I/O here, so every verdict is testable with a plain object.
 *
 * FAIL means Berth cannot work as configured (exit status 1); WARN means it can, with something missing or
 * unchecked that the user should know about: a host without GPUs is a WARN, since trying Berth on a laptop with
 * simulated GPUs is legitimate.
 */
import { bytes } from "../cli-output";
import { gpuType, gpuTypeOfProductLabel } from "../resources/gpu-types";
import type { ControlPlaneFacts, DiskFacts, DockerEngineFacts, DoctorFacts, GpuFacts, KubernetesFacts, KubeNodeFacts, Probed } from "./facts";

export type CheckStatus = "ok" | "warn" | "fail";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  /** What was found, in one line. */
  detail: string;
  /** What to do about it: a command or a setting. Absent when OK. */
  fix?: string;
  /** One line per thing the check looked at (a GPU, a node), when there are several. */
  items?: string[];
}

/**
 * Engine API 1.40 (Docker 19.03) brought DeviceRequests, which hand workers their GPUs: older cannot run them.
 * 1.41 (Docker 20.10) is the oldest Berth is tested with (the test bed's engine), and the first that takes the
 * `one-shot` stats Berth samples workers with; older engines ignore it and wait a second per sample.
 */
export const MIN_DOCKER_API = "1.40";
export const TESTED_DOCKER_API = "1.41";

/** A vLLM worker image alone is about 10 GB: room for two is the least to start with. */
export const DISK_WARN_BYTES = 20 * 1024 ** 3;
/** Below this no worker image fits, nor the control plane's own. */
export const DISK_FAIL_BYTES = 2 * 1024 ** 3;

/** Both ways a control plane is started: by hand, and by the ControlPlane resource of a Pulumi program. */
export const SIMULATED_GPUS_EXAMPLE =
  `berth server --simulated-gpus "NVIDIA GeForce RTX 4090=2" (in a Pulumi program: ` +
  `pulumi config set simulatedGpus "NVIDIA GeForce RTX 4090=2", the ControlPlane's simulatedGpus)`;

const TOOLKIT_INSTALL =
  "install the NVIDIA Container Toolkit and restart Docker: sudo apt-get install -y nvidia-container-toolkit && " +
  "sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker " +
  "(other distributions: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html)";

export function judge(facts: DoctorFacts): CheckResult[] {
  const checks: CheckResult[] = [];
  if (facts.docker && facts.gpus) {
    checks.push(dockerEngineCheck(facts.docker));
    checks.push(nvidiaDriverCheck(facts.gpus));
    checks.push(containerToolkitCheck(facts));
    checks.push(gpusCheck(facts.gpus));
    checks.push(diskCheck(facts.disk));
  }
  if (facts.kubernetes) checks.push(...kubernetesChecks(facts.kubernetes));
  checks.push(controlPlaneCheck(facts.controlPlane));
  return checks;
}

/** The worst status of all: what the exit status follows. */
export function overall(checks: readonly CheckResult[]): CheckStatus {
  if (checks.some((c) => c.status === "fail")) return "fail";
  return checks.some((c) => c.status === "warn") ? "warn" : "ok";
}

const ok = (name: string, detail: string, items?: string[]): CheckResult => ({ name, status: "ok", detail, ...(items && { items }) });
const warn = (name: string, detail: string, fix: string, items?: string[]): CheckResult => ({ name, status: "warn", detail, fix, ...(items && { items }) });
const fail = (name: string, detail: string, fix: string, items?: string[]): CheckResult => ({ name, status: "fail", detail, fix, ...(items && { items }) });

/** "1.41" < "1.9" as strings but not as versions. */
export function compareApiVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split(".").map(Number);
  const [bm = 0, bn = 0] = b.split(".").map(Number);
  return am - bm || an - bn;
}

function dockerEngineCheck(docker: DockerEngineFacts): CheckResult {
  const name = "Docker engine";
  if (!docker.version.ok) {
    const error = docker.version.error;
    if (/EACCES/.test(error)) {
      return fail(name, error, "this user may not use the Docker socket: add it to the docker group (sudo usermod -aG docker $USER, then log in again), or run as root");
    }
    if (/DOCKER_HOST=|DOCKER_TLS_VERIFY/.test(error)) {
      return fail(name, error, "set DOCKER_HOST to unix:///var/run/docker.sock or tcp://host:port (TLS: DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)");
    }
    return fail(name, error, `start the Docker engine (sudo systemctl start docker), or set DOCKER_HOST to where it listens (now ${docker.host})`);
  }
  const { version, apiVersion } = docker.version.value;
  const found = `${docker.host}: Docker ${version}, API ${apiVersion}`;
  const upgrade = "upgrade Docker Engine: https://docs.docker.com/engine/install/";
  if (compareApiVersions(apiVersion, MIN_DOCKER_API) < 0) {
    return fail(name, `${found}, older than API ${MIN_DOCKER_API} (Docker 19.03), the first with the DeviceRequests that give workers their GPUs`, upgrade);
  }
  if (compareApiVersions(apiVersion, TESTED_DOCKER_API) < 0) {
    return warn(name, `${found}, older than API ${TESTED_DOCKER_API} (Docker 20.10), the oldest Berth is tested with`, upgrade);
  }
  return ok(name, found);
}

const DRIVER_FIX =
  "fix the NVIDIA driver until nvidia-smi lists the GPUs (after a driver or kernel upgrade, a reboot), " +
  'or declare the GPUs: berth server --gpus "<nvidia-smi index or UUID>=<GPU type>;..."';

function nvidiaDriverCheck(gpus: GpuFacts): CheckResult {
  const name = "NVIDIA driver";
  if (!gpus.driver.ok) return fail(name, gpus.driver.error, DRIVER_FIX);
  if (!gpus.driver.value.installed) {
    return warn(
      name,
      "nvidia-smi not found: no NVIDIA driver on this host (or not on PATH)",
      `install NVIDIA's driver for your distribution (Ubuntu: sudo ubuntu-drivers install), then check that nvidia-smi lists the GPUs; ` +
        `without GPUs, try Berth with simulated ones: ${SIMULATED_GPUS_EXAMPLE}`,
    );
  }
  const count = gpus.driver.value.devices.length + gpus.driver.value.unknown.length;
  if (count === 0) {
    return warn(name, "nvidia-smi answers but lists no GPU", "check that the kernel sees the GPUs (lspci | grep -i nvidia) and that the driver supports them");
  }
  return ok(name, `nvidia-smi answers: ${count} GPU${count === 1 ? "" : "s"}`);
}

/** How many GPUs nvidia-smi listed, known to Berth's table or not; undefined when it could not be asked. */
function gpuCount(gpus: GpuFacts | undefined): number | undefined {
  if (!gpus?.driver.ok) return undefined;
  const driver = gpus.driver.value;
  return driver.installed ? driver.devices.length + driver.unknown.length : 0;
}

function containerToolkitCheck(facts: DoctorFacts): CheckResult {
  const name = "NVIDIA container toolkit";
  const docker = facts.docker!;
  if (!facts.toolkit) {
    return warn(name, `not checked: the Docker engine at ${docker.host} is on another machine`, `check there: ${TOOLKIT_INSTALL}`);
  }
  const { hook, cdiSpecs } = facts.toolkit;
  const runtimes = docker.info?.ok ? docker.info.value.runtimes : undefined;
  const found = [
    ...(hook ? [`${hook} (Docker's "nvidia" device driver, which Berth's DeviceRequests name)`] : []),
    ...(runtimes?.includes("nvidia") ? ['the engine\'s "nvidia" runtime'] : []),
    ...(cdiSpecs.length > 0 ? [`CDI specs of nvidia.com/gpu: ${cdiSpecs.join(", ")}`] : []),
  ];
  const gpus = gpuCount(facts.gpus);
  if (hook) return ok(name, found.join("; "));
  if (found.length > 0) {
    // The toolkit's packages put the hook beside its runtime; a runtime or CDI specs alone leave Docker's
    // "nvidia" device driver unregistered on engines that do not turn GPU requests into CDI devices.
    return warn(name, `${found.join("; ")}, but no nvidia-container-runtime-hook on the engine's PATH`, TOOLKIT_INSTALL);
  }
  const none = 'none found (no nvidia-container-runtime-hook, no "nvidia" runtime, no CDI spec of nvidia.com/gpu)';
  if (gpus === undefined || gpus === 0) {
    return warn(name, `${none}: not needed until this host has NVIDIA GPUs (simulated GPUs need none)`, `with the driver, ${TOOLKIT_INSTALL}`);
  }
  return fail(name, `${none}: Docker cannot give workers this host's GPUs`, TOOLKIT_INSTALL);
}

function gpusCheck(gpus: GpuFacts): CheckResult {
  const name = "GPUs";
  const simulate = `without GPUs, try Berth with simulated ones: ${SIMULATED_GPUS_EXAMPLE}`;
  if (!gpus.driver.ok) return warn(name, "not known: nvidia-smi failed (NVIDIA driver above)", DRIVER_FIX);
  const driver = gpus.driver.value;
  if (!driver.installed) return warn(name, "no NVIDIA GPU found on this host (no nvidia-smi)", `${simulate}; or install the NVIDIA driver`);
  if (driver.devices.length + driver.unknown.length === 0) return warn(name, "no NVIDIA GPU found: nvidia-smi lists none", simulate);

  const items = driver.devices.map(({ id, typeId }) => {
    const type = gpuType(typeId);
    return `${id}: RunPod GPU type "${typeId}"${type ? ` (${type.memoryGb} GB${type.pool ? `, pool ${type.pool}` : ""})` : ""}`;
  });
  const byType = new Map<string, number>();
  for (const device of driver.devices) byType.set(device.typeId, (byType.get(device.typeId) ?? 0) + 1);
  const summary = [...byType].map(([type, n]) => `${n} x ${type}`);
  if (driver.unknown.length > 0) {
    return warn(
      name,
      [...summary, `${driver.unknown.length} not in Berth's GPU table`].join(", "),
      "Berth places workers only on GPU types it knows (GET /admin/gpu-types lists them); " +
        'if one of these is a known type under another name, declare it: berth server --gpus "<UUID>=<GPU type>"',
      [...items, ...driver.unknown],
    );
  }
  return ok(name, summary.join(", "), items);
}

function diskCheck(disk: Probed<DiskFacts> | undefined): CheckResult {
  const name = "Disk for images";
  if (!disk?.ok) {
    return warn(name, `not checked: ${disk?.error ?? "no answer"}`, "check free space where the engine keeps images: docker system df, and df -h on its DockerRootDir");
  }
  const { path, fallback, freeBytes, totalBytes } = disk.value;
  const found = `${bytes(freeBytes)} free of ${bytes(totalBytes)} at ${path}${fallback ? ` (${fallback}; measured / instead)` : ""}`;
  const fix =
    'free space (docker image prune -a removes images no container uses), or move the engine\'s "data-root" ' +
    "(/etc/docker/daemon.json) to a larger disk";
  if (freeBytes < DISK_FAIL_BYTES) return fail(name, `${found}: below ${bytes(DISK_FAIL_BYTES)}, no worker image fits`, fix);
  if (freeBytes < DISK_WARN_BYTES) return warn(name, `${found}: below ${bytes(DISK_WARN_BYTES)}; a vLLM worker image alone is about 10 GB`, fix);
  return ok(name, found);
}

const KUBECONFIG_FIX =
  "check the kubeconfig (--kubeconfig or BERTH_KUBECONFIG, else KUBECONFIG or ~/.kube/config): kubectl get nodes must work with it from here";
const DEVICE_PLUGIN_FIX =
  "install NVIDIA's device plugin, e.g. with the GPU Operator: helm repo add nvidia https://helm.ngc.nvidia.com/nvidia && " +
  "helm install --wait gpu-operator -n gpu-operator --create-namespace nvidia/gpu-operator (or k8s-device-plugin alone)";
const FEATURE_DISCOVERY_FIX =
  "install GPU feature discovery (part of the GPU Operator, or nvidia/gpu-feature-discovery), " +
  "or label the node: kubectl label node <node> nvidia.com/gpu.product=<product, e.g. NVIDIA-H100-80GB-HBM3>";

function kubernetesChecks(kube: KubernetesFacts): CheckResult[] {
  const name = "Kubernetes API";
  const where = kube.server ? `${kube.server}: ` : "";
  if (!kube.version.ok) return [fail(name, `${where}${kube.version.error}`, KUBECONFIG_FIX)];
  const found = `${where}Kubernetes ${kube.version.value}`;
  if (!kube.nodes?.ok) {
    const error = kube.nodes?.error ?? "no answer";
    if (kube.nodes?.status === 403) {
      return [
        warn(
          name,
          `${found}; this kubeconfig may not list nodes: ${error}`,
          "doctor (and the control plane's GPU summary) read nodes: grant list on nodes with a ClusterRole, or run doctor with a cluster admin's kubeconfig",
        ),
      ];
    }
    return [fail(name, `${found}; listing nodes failed: ${error}`, KUBECONFIG_FIX)];
  }
  const nodes = kube.nodes.value;
  return [ok(name, `${found}, ${nodes.length} node${nodes.length === 1 ? "" : "s"}`), gpuCapacityCheck(nodes), gpuLabelsCheck(nodes)];
}

function gpuCapacityCheck(nodes: readonly KubeNodeFacts[]): CheckResult {
  const name = "Kubernetes GPU capacity";
  const gpuNodes = nodes.filter((n) => n.gpuCapacity > 0);
  if (gpuNodes.length === 0) return warn(name, `no node of ${nodes.length} advertises nvidia.com/gpu`, DEVICE_PLUGIN_FIX);
  const items = gpuNodes.map((n) => `${n.name}: nvidia.com/gpu capacity ${n.gpuCapacity}, allocatable ${n.gpuAllocatable}`);
  const total = gpuNodes.reduce((sum, n) => sum + n.gpuAllocatable, 0);
  const found = `${total} allocatable nvidia.com/gpu on ${gpuNodes.length} of ${nodes.length} nodes`;
  const unusable = gpuNodes.filter((n) => n.gpuAllocatable === 0).map((n) => n.name);
  if (unusable.length > 0) {
    return warn(
      name,
      `${found}; none allocatable on ${unusable.join(", ")}`,
      "the device plugin there reports no healthy GPU: read its pod's log on that node (kubectl get pods -A -o wide | grep device-plugin)",
      items,
    );
  }
  return ok(name, found, items);
}

function gpuLabelsCheck(nodes: readonly KubeNodeFacts[]): CheckResult {
  const name = "Kubernetes GPU labels";
  const gpuNodes = nodes.filter((n) => n.gpuCapacity > 0 || n.product !== undefined);
  if (gpuNodes.length === 0) return warn(name, "no node has the nvidia.com/gpu.product label Berth places workers by", FEATURE_DISCOVERY_FIX);
  const unlabelled = gpuNodes.filter((n) => n.product === undefined).map((n) => n.name);
  const unknown = gpuNodes.filter((n) => n.product !== undefined && !gpuTypeOfProductLabel(n.product)).map((n) => `${n.name} (${n.product})`);
  const items = gpuNodes.map((n) => {
    if (n.product === undefined) return `${n.name}: no nvidia.com/gpu.product label`;
    const type = gpuTypeOfProductLabel(n.product);
    return `${n.name}: nvidia.com/gpu.product=${n.product}${type ? `, RunPod GPU type "${type.id}"` : ", not in Berth's GPU table"}`;
  });
  const problems = [
    ...(unlabelled.length > 0 ? [`no product label on ${unlabelled.join(", ")}`] : []),
    ...(unknown.length > 0 ? [`products Berth's GPU table does not know on ${unknown.join(", ")}`] : []),
  ];
  if (problems.length === 0) return ok(name, `${gpuNodes.length} GPU node${gpuNodes.length === 1 ? "" : "s"}, each labelled with a known GPU type`, items);
  const fixes = [
    ...(unlabelled.length > 0 ? [FEATURE_DISCOVERY_FIX] : []),
    ...(unknown.length > 0 ? ["endpoints name RunPod GPU types, which Berth matches to this label through its GPU table (GET /admin/gpu-types): a product not in it gets no workers"] : []),
  ];
  return warn(name, problems.join("; "), fixes.join("; "), items);
}

const CONTROL_PLANE_KEY_FIX =
  "use a key of this control plane: one given to berth server with --api-key (or the api-key file in its data directory), " +
  "or one made with berth keys create; berth keys list shows whether a key was revoked or has expired";

function controlPlaneCheck(cp: ControlPlaneFacts | undefined): CheckResult {
  const name = "Control plane";
  if (!cp) {
    return warn(
      name,
      "not checked: no control plane URL given",
      "once it runs (berth server), check it too: berth doctor --url http://127.0.0.1:8910 --api-key <key> (or set BERTH_URL and BERTH_API_KEY)",
    );
  }
  const { url, health, keyCheck } = cp;
  if (!health.ok) return fail(name, `${url}: ${health.error}`, "start the control plane (berth server), or point --url (BERTH_URL) at where it listens");
  if (health.value.status !== 200) {
    return fail(name, `${url}/healthz answered HTTP ${health.value.status}`, "check that --url (BERTH_URL) names a Berth control plane; its log says why it is unwell");
  }
  if (!keyCheck) return warn(name, `${url}: up; the key was not checked: none given`, "pass --api-key or set BERTH_API_KEY");
  if (!keyCheck.ok) return fail(name, `${url}: up, but GET /admin/endpoints failed: ${keyCheck.error}`, "check the control plane's log");
  const { status, message, endpoints, scope } = keyCheck.value;
  const said = message ? `: ${message}` : "";
  if (status === 200) return ok(name, `${url}: up, the key may read the admin API (${endpoints ?? "?"} endpoint${endpoints === 1 ? "" : "s"})`);
  if (status === 401) return fail(name, `${url}: the key was refused: HTTP 401${said}`, CONTROL_PLANE_KEY_FIX);
  if (status === 403) {
    return warn(
      name,
      `${url}: the key is accepted, but its scope${scope ? ` (${scope})` : ""} may not read the admin API: HTTP 403${said}`,
      "berth's admin commands and Pulumi stacks need an admin key (reads: a read key); a run key calls only its endpoints' client API (/v2/...)",
    );
  }
  return fail(name, `${url}: GET /admin/endpoints answered HTTP ${status}${said}`, "check the control plane's log");
}
