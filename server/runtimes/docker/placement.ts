/**
 * Where a new worker's GPUs and memory come from, on one host: pure functions over the host's inventory and
 * what its workers already hold, so the scheduler can ask "does one more fit?" without touching a runtime.
 *
 * A worker gets `gpuCount` whole devices of one type (a multi-GPU worker on mixed types would run at the pace
 * of the slowest and could not shard evenly): the first type in the endpoint's priority order with that many
 * free devices, taking the earliest free devices in inventory order (nvidia-smi index order, the order declared,
 * or sim-0, sim-1, ...). A refusal says which resource is short and whether waiting can help, and says
 * "simulated" whenever the GPUs it talks about are.
 */
import type { GpuDevice, GpuInventory } from "../../policy/worker-model";
import { resolveGpuTypeIds } from "../../resources/gpu-types";

export interface PlacementRequest {
  /** The endpoint's gpuTypeIds as written: type ids, pool ids, `-` exclusions; empty means any type. */
  gpuTypeIds: readonly string[];
  gpuCount: number;
  /** The worker's memory limit; absent: none. */
  memoryBytes?: number;
}

export interface HostCapacity {
  inventory: GpuInventory;
  /** Device ids held by existing workers. */
  inUse: ReadonlySet<string>;
  /** Bytes of memory available to workers in total; absent: the runtime sets no bound. */
  memoryCapacity?: number;
  /** Bytes of memory limits held by existing workers. */
  memoryInUse: number;
}

export type Placement = { ok: true; gpus: GpuDevice[] } | { ok: false; reason: string };

export function placeWorker(request: PlacementRequest, capacity: HostCapacity): Placement {
  const gpus = pickGpus(request, capacity);
  const memory = memoryShortfall(request, capacity);
  if (Array.isArray(gpus) && memory === undefined) return { ok: true, gpus };
  return { ok: false, reason: [typeof gpus === "string" ? gpus : undefined, memory].filter(Boolean).join("; ") };
}

/** `4 x NVIDIA GeForce RTX 4090, 2 x NVIDIA H100 80GB HBM3 (simulated)`: counts by type, then where they came from. */
export function describeInventory(inventory: GpuInventory): string {
  const counts = new Map<string, number>();
  for (const device of inventory.devices) counts.set(device.typeId, (counts.get(device.typeId) ?? 0) + 1);
  const listed = [...counts].map(([typeId, n]) => `${n} x ${typeId}`).join(", ");
  const source = inventory.source === "none" ? "nvidia-smi not found" : inventory.source;
  return `${listed || "no GPUs"} (${source})`;
}

/** The devices to hand out, or why there are none. */
function pickGpus(request: PlacementRequest, { inventory, inUse }: HostCapacity): GpuDevice[] | string {
  if (inventory.devices.length === 0) {
    return inventory.source === "nvidia-smi"
      ? "this host has no GPUs Berth knows: nvidia-smi listed none of a type in its GPU table (the start-up log names them)"
      : `this host has ${describeInventory(inventory)}; declare them with --gpus, or --simulated-gpus for development`;
  }
  const { gpuCount } = request;
  const typeIds = resolveGpuTypeIds(request.gpuTypeIds);
  const asked = `${gpuCount} x ${describeWanted(request.gpuTypeIds, typeIds)}`;
  const candidates = typeIds
    .map((typeId) => ({ typeId, devices: inventory.devices.filter((d) => d.typeId === typeId) }))
    .filter((c) => c.devices.length > 0);
  if (candidates.length === 0) {
    return `no GPU of an allowed type on this host for ${asked}; it has ${describeInventory(inventory)}`;
  }
  for (const { devices } of candidates) {
    const free = devices.filter((d) => !inUse.has(d.id));
    if (free.length >= gpuCount) return free.slice(0, gpuCount);
  }

  const simulated = inventory.source === "simulated" ? "simulated " : "";
  const bigEnough = candidates.filter((c) => c.devices.length >= gpuCount);
  if (bigEnough.length === 0) {
    // Waiting cannot help: the endpoint's gpuCount exceeds what the host has of any one allowed type.
    const has = candidates.map((c) => `${c.devices.length} x ${simulated}${c.typeId}`).join(", ");
    return `too few GPUs of one type for ${asked} (a worker's GPUs are all of one type): this host has ${has}`;
  }
  const detail = bigEnough.map(({ typeId, devices }) => {
    const held = devices.filter((d) => inUse.has(d.id)).length;
    return `${devices.length - held} of ${devices.length} ${simulated}${typeId} free (${held} held by other workers)`;
  });
  return `no free GPU for ${asked}: ${detail.join(", ")}`;
}

/** The endpoint's choice for messages: the concrete types in priority order, or "any" when it named none. */
function describeWanted(entries: readonly string[], typeIds: readonly string[]): string {
  if (entries.some((e) => !e.startsWith("-"))) return `[${typeIds.join(", ")}]`;
  return entries.length > 0 ? `any GPU type but ${entries.map((e) => e.slice(1)).join(", ")}` : "any GPU type";
}

function memoryShortfall({ memoryBytes }: PlacementRequest, { memoryCapacity, memoryInUse }: HostCapacity): string | undefined {
  if (memoryBytes === undefined || memoryCapacity === undefined) return undefined;
  if (memoryBytes > memoryCapacity) {
    return `not enough memory: needs ${gib(memoryBytes, Math.ceil)}, more than the ${gib(memoryCapacity, Math.round)} this host has for workers`;
  }
  const free = Math.max(0, memoryCapacity - memoryInUse);
  if (memoryBytes <= free) return undefined;
  return `not enough memory: needs ${gib(memoryBytes, Math.ceil)}, ${gib(free, Math.floor)} of ${gib(memoryCapacity, Math.round)} free`;
}

/** Bytes as GiB to one decimal, rounded the way that keeps "needs" above "free" when they differ. */
function gib(bytes: number, round: (x: number) => number): string {
  return `${round((bytes / 2 ** 30) * 10) / 10} GiB`;
}
