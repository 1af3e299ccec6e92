/**
 * Finds the GPUs this host can hand to workers. Exactly one source answers:
 *
 * - `simulated` (`--simulated-gpus` / `BERTH_SIMULATED_GPUS`) set: source "simulated", for development on a host
 *   without the hardware. Format `<type>=<count>[;...]`, e.g. `NVIDIA GeForce RTX 4090=4;NVIDIA H100 80GB HBM3=2`;
 *   a type is a RunPod GPU type id or an nvidia-smi name from server/resources/gpu-types.ts, listed once; a count
 *   is a whole number from 1 to 64. Devices are `sim-0`, `sim-1`, ... numbered in the order given, all
 *   `simulated: true`.
 * - `declared` (`--gpus` / `BERTH_GPUS`) set: source "declared", for a host whose GPUs the control plane cannot
 *   query itself (it runs in a container without nvidia-smi, say). Format `<device id>=<type>[;...]`, e.g.
 *   `0=NVIDIA H100 80GB HBM3;1=NVIDIA H100 80GB HBM3`; a device id is what Docker's DeviceIDs accepts (an
 *   nvidia-smi index or UUID), made of letters, digits and `- _ . : /`, each id once. Devices keep the order given.
 * - Both set: an error. Real and simulated devices are never mixed, so a simulated inventory can never hide
 *   behind real GPUs in status output.
 * - Neither set: `nvidia-smi --query-gpu=index,uuid,name --format=csv,noheader`. Success: source "nvidia-smi",
 *   one device per GPU in index order, its id the GPU's UUID (stable across reboots, unlike indexes, and
 *   accepted by Docker's DeviceIDs), its type the table row whose smiName equals the reported name. A GPU whose
 *   name is not in the table is left out, with a warning. nvidia-smi not installed: source "none", no devices
 *   (a CPU host is not an error). nvidia-smi present but failing or timing out: an error naming the command and
 *   what it printed.
 *
 * In both settings entries are separated by `;` (GPU names contain spaces, dashes and digits) and blank entries
 * are ignored; a setting with no entries is an error. Every bad entry is reported, in one Error whose message
 * names the setting, in the style of loadServerConfig's errors.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { GPU_POOLS, GPU_TYPES, gpuType, suggestGpuId, type GpuPoolId, type GpuType } from "../../resources/gpu-types";
import type { GpuDevice, GpuInventory } from "../../policy/worker-model";

export interface DetectGpuOptions {
  /** `--gpus` / `BERTH_GPUS`. */
  declared?: string;
  /** `--simulated-gpus` / `BERTH_SIMULATED_GPUS`. */
  simulated?: string;
  /** The nvidia-smi command; default "nvidia-smi" from PATH. */
  nvidiaSmi?: string;
}

/** The inventory, and the GPUs left out of it (unknown types) for the caller to log. */
export interface DetectedGpus {
  inventory: GpuInventory;
  warnings: string[];
}

const DECLARED_SETTING = "--gpus / BERTH_GPUS";
const SIMULATED_SETTING = "--simulated-gpus / BERTH_SIMULATED_GPUS";
const MAX_SIMULATED_PER_TYPE = 64;
const NVIDIA_SMI_ARGS = ["--query-gpu=index,uuid,name", "--format=csv,noheader"];
// nvidia-smi takes seconds to answer when the driver is not kept loaded (persistence mode off).
const NVIDIA_SMI_TIMEOUT_MS = 30_000;

export async function detectGpuInventory(options: DetectGpuOptions): Promise<DetectedGpus> {
  const { declared, simulated } = options;
  if (declared !== undefined && simulated !== undefined) {
    throw new Error(
      `invalid server configuration:\n  ${DECLARED_SETTING} and ${SIMULATED_SETTING} are both set; ` +
        "give one: real and simulated GPUs are never mixed",
    );
  }
  if (simulated !== undefined) return { inventory: { source: "simulated", devices: parseSimulated(simulated) }, warnings: [] };
  if (declared !== undefined) return { inventory: { source: "declared", devices: parseDeclared(declared) }, warnings: [] };
  return queryNvidiaSmi(options.nvidiaSmi ?? "nvidia-smi");
}

/** Collects every problem in a setting before failing, so one start-up shows them all. */
class SettingProblems {
  private readonly problems: string[] = [];
  constructor(private readonly setting: string) {}
  add(problem: string): void {
    this.problems.push(problem);
  }
  throwIfAny(): void {
    if (this.problems.length === 0) return;
    throw new Error(`invalid server configuration:\n  ${this.problems.map((p) => `${this.setting}: ${p}`).join("\n  ")}`);
  }
}

/** Splits a setting into `[entry, left, right]` at each entry's first `=`, reporting malformed entries. */
function entries(setting: string, format: string, example: string, problems: SettingProblems): Array<[string, string, string]> {
  const raw = setting.split(";").map((entry) => entry.trim()).filter(Boolean);
  if (raw.length === 0) problems.add(`is empty; expected "${format}", e.g. "${example}"`);
  const pairs: Array<[string, string, string]> = [];
  for (const entry of raw) {
    const eq = entry.indexOf("=");
    if (eq < 0) problems.add(`entry "${entry}" is not "${format.replace("[;...]", "")}"`);
    else pairs.push([entry, entry.slice(0, eq).trim(), entry.slice(eq + 1).trim()]);
  }
  return pairs;
}

/** A type as a RunPod type id or an nvidia-smi name; undefined after reporting why not. */
function typeNamed(name: string, entry: string, problems: SettingProblems): GpuType | undefined {
  const type = gpuType(name) ?? GPU_TYPES.find((t) => t.smiName === name);
  if (type) return type;
  const pool = GPU_POOLS.get(name as GpuPoolId);
  const hint = suggestGpuId(name);
  problems.add(
    `entry "${entry}": ` +
      (pool
        ? `"${name}" is a pool; name one of its GPU types: ${pool.join(", ")}`
        : `unknown GPU type "${name}"${hint && gpuType(hint) ? `; did you mean "${hint}"?` : "; GET /admin/gpu-types lists them"}`),
  );
  return undefined;
}

function parseSimulated(setting: string): GpuDevice[] {
  const problems = new SettingProblems(SIMULATED_SETTING);
  const parsed = entries(setting, "<type>=<count>[;...]", "NVIDIA GeForce RTX 4090=4;NVIDIA H100 80GB HBM3=2", problems);
  const devices: GpuDevice[] = [];
  const seen = new Set<string>();
  for (const [entry, name, count] of parsed) {
    const type = typeNamed(name, entry, problems);
    const n = /^\d+$/.test(count) ? Number(count) : NaN;
    if (!(n >= 1 && n <= MAX_SIMULATED_PER_TYPE)) {
      problems.add(`entry "${entry}": the count must be a whole number from 1 to ${MAX_SIMULATED_PER_TYPE}`);
      continue;
    }
    if (!type) continue;
    if (seen.has(type.id)) {
      problems.add(`entry "${entry}": GPU type "${type.id}" is listed twice; give its count once`);
      continue;
    }
    seen.add(type.id);
    for (let i = 0; i < n; i++) devices.push({ id: `sim-${devices.length}`, typeId: type.id, simulated: true });
  }
  problems.throwIfAny();
  return devices;
}

function parseDeclared(setting: string): GpuDevice[] {
  const problems = new SettingProblems(DECLARED_SETTING);
  const parsed = entries(setting, "<device id>=<type>[;...]", "0=NVIDIA H100 80GB HBM3;1=NVIDIA H100 80GB HBM3", problems);
  const devices: GpuDevice[] = [];
  for (const [entry, id, name] of parsed) {
    const type = typeNamed(name, entry, problems);
    if (!/^[A-Za-z0-9][\w.:/-]*$/.test(id)) {
      problems.add(`entry "${entry}": the device id must be an nvidia-smi index or UUID (letters, digits and - _ . : /)`);
    } else if (devices.some((d) => d.id === id)) {
      problems.add(`entry "${entry}": device id "${id}" is listed twice`);
    } else if (type) {
      devices.push({ id, typeId: type.id, simulated: false });
    }
  }
  problems.throwIfAny();
  return devices;
}

interface ExecFailure extends Error {
  code?: string | number;
  killed?: boolean;
  stdout?: string;
  stderr?: string;
}

async function queryNvidiaSmi(command: string): Promise<DetectedGpus> {
  const commandLine = [command, ...NVIDIA_SMI_ARGS].join(" ");
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(command, NVIDIA_SMI_ARGS, { timeout: NVIDIA_SMI_TIMEOUT_MS }));
  } catch (err) {
    const failure = err as ExecFailure;
    if (failure.code === "ENOENT") return { inventory: { source: "none", devices: [] }, warnings: [] };
    // nvidia-smi prints its own failures ("NVIDIA-SMI has failed because ...") on stdout, other errors on stderr.
    const said = failure.stderr?.trim() || failure.stdout?.trim() || failure.message;
    const how = failure.killed
      ? `did not answer within ${NVIDIA_SMI_TIMEOUT_MS / 1000} s`
      : `failed${typeof failure.code === "number" ? ` (exit ${failure.code})` : ""}: ${said}`;
    throw new Error(`${commandLine} ${how}; fix the driver, or declare the GPUs with ${DECLARED_SETTING}`);
  }

  const devices: Array<GpuDevice & { index: number }> = [];
  const warnings: string[] = [];
  for (const line of stdout.split("\n").filter((l) => l.trim() !== "")) {
    const [index, uuid, ...nameParts] = line.split(",").map((field) => field.trim());
    const name = nameParts.join(",");
    if (!index || !/^\d+$/.test(index) || !uuid || !name) throw new Error(`${commandLine}: unexpected output line "${line}"`);
    const type = GPU_TYPES.find((t) => t.smiName.trim() === name);
    if (type) devices.push({ id: uuid, typeId: type.id, simulated: false, index: Number(index) });
    else warnings.push(`GPU ${index} (${uuid}) is a "${name}", which is not in Berth's GPU table; it is left out of the inventory`);
  }
  devices.sort((a, b) => a.index - b.index);
  return { inventory: { source: "nvidia-smi", devices: devices.map(({ id, typeId, simulated }) => ({ id, typeId, simulated })) }, warnings };
}

/**
 * Each GPU's utilization in percent, keyed by both its UUID and its index (the two ways a device is named), from
 * nvidia-smi; empty when it cannot be asked. For the workers view only, so a failure is not an error.
 */
export async function sampleGpuUtilization(nvidiaSmi = "nvidia-smi"): Promise<Map<string, number>> {
  const use = new Map<string, number>();
  try {
    const { stdout } = await promisify(execFile)(nvidiaSmi, ["--query-gpu=index,uuid,utilization.gpu", "--format=csv,noheader,nounits"], {
      timeout: NVIDIA_SMI_TIMEOUT_MS,
    });
    for (const line of stdout.split("\n")) {
      const [index, uuid, percent] = line.split(",").map((field) => field.trim());
      if (!index || !uuid || percent === undefined || Number.isNaN(Number(percent))) continue;
      use.set(index, Number(percent));
      use.set(uuid, Number(percent));
    }
  } catch {
    // no nvidia-smi, or it failed: no figures
  }
  return use;
}
