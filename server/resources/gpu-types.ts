/**
 * The one table of GPU types Berth knows: RunPod's GPU type ids, what the hardware calls itself, and RunPod's
 * serverless pools. Endpoints name GPUs the RunPod way (`gpuTypeIds`); the runtime drivers match them against
 * what a host or node reports: the Docker driver against `nvidia-smi --query-gpu=name`, the Kubernetes driver
 * against the `nvidia.com/gpu.product` node label.
 *
 * Type ids and pool membership follow RunPod's catalogue (docs "GPU types"; runpod-python's GpuGroup enum).
 */

export type GpuPoolId =
  | "AMPERE_16"
  | "AMPERE_24"
  | "ADA_24"
  | "ADA_32_PRO"
  | "AMPERE_48"
  | "ADA_48_PRO"
  | "AMPERE_80"
  | "ADA_80_PRO"
  | "HOPPER_141";

export interface GpuType {
  /** RunPod's GPU type id, as endpoints name it. */
  id: string;
  /** The name nvidia-smi reports. RunPod took its ids from it, so the two agree for every row today. */
  smiName: string;
  memoryGb: number;
  /** The RunPod serverless pool the type belongs to, if any. */
  pool?: GpuPoolId;
}

const gpu = (id: string, memoryGb: number, pool?: GpuPoolId): GpuType => ({ id, smiName: id, memoryGb, pool });

/** Within a pool, rows are in the order the pool's members are tried: the order of this table. */
export const GPU_TYPES: readonly GpuType[] = [
  gpu("NVIDIA RTX A4000", 16, "AMPERE_16"),
  gpu("NVIDIA RTX A4500", 20, "AMPERE_16"),
  gpu("NVIDIA RTX 4000 Ada Generation", 20, "AMPERE_16"),
  gpu("NVIDIA RTX 2000 Ada Generation", 16, "AMPERE_16"),
  gpu("NVIDIA RTX A5000", 24, "AMPERE_24"),
  gpu("NVIDIA L4", 24, "AMPERE_24"),
  gpu("NVIDIA GeForce RTX 3090", 24, "AMPERE_24"),
  gpu("NVIDIA GeForce RTX 4090", 24, "ADA_24"),
  gpu("NVIDIA GeForce RTX 5090", 32, "ADA_32_PRO"),
  gpu("NVIDIA A40", 48, "AMPERE_48"),
  gpu("NVIDIA RTX A6000", 48, "AMPERE_48"),
  gpu("NVIDIA RTX 6000 Ada Generation", 48, "ADA_48_PRO"),
  gpu("NVIDIA L40", 48, "ADA_48_PRO"),
  gpu("NVIDIA L40S", 48, "ADA_48_PRO"),
  gpu("NVIDIA A100 80GB PCIe", 80, "AMPERE_80"),
  gpu("NVIDIA A100-SXM4-80GB", 80, "AMPERE_80"),
  gpu("NVIDIA H100 PCIe", 80, "ADA_80_PRO"),
  gpu("NVIDIA H100 80GB HBM3", 80, "ADA_80_PRO"),
  gpu("NVIDIA H100 NVL", 94, "ADA_80_PRO"),
  gpu("NVIDIA H200", 141, "HOPPER_141"),
  // Types RunPod rents as pods but puts in no serverless pool: named only by their type id.
  gpu("NVIDIA A100-SXM4-40GB", 40),
  gpu("NVIDIA A30", 24),
  gpu("NVIDIA RTX A2000", 12),
  gpu("NVIDIA GeForce RTX 3080", 10),
  gpu("NVIDIA GeForce RTX 3080 Ti", 12),
  gpu("NVIDIA GeForce RTX 4080", 16),
  gpu("NVIDIA RTX 5000 Ada Generation", 32),
  gpu("NVIDIA B200", 180),
  gpu("Tesla V100-SXM2-16GB", 16),
  gpu("Tesla V100-PCIE-16GB", 16),
];

const TYPES_BY_ID = new Map(GPU_TYPES.map((type) => [type.id, type]));

export const GPU_POOLS: ReadonlyMap<GpuPoolId, readonly string[]> = (() => {
  const pools = new Map<GpuPoolId, string[]>();
  for (const type of GPU_TYPES) {
    if (type.pool) pools.set(type.pool, [...(pools.get(type.pool) ?? []), type.id]);
  }
  return pools;
})();

export function gpuType(id: string): GpuType | undefined {
  return TYPES_BY_ID.get(id);
}

/**
 * The `nvidia.com/gpu.product` label NVIDIA's GPU feature discovery puts on a node: the nvidia-smi name with
 * spaces turned into dashes ("NVIDIA H100 80GB HBM3" -> "NVIDIA-H100-80GB-HBM3").
 */
export function kubernetesProductLabel(type: GpuType): string {
  return type.smiName.trim().replace(/\s+/g, "-");
}

/** The GPU type a node's `nvidia.com/gpu.product` label names; undefined for a product Berth's table does not know. */
export function gpuTypeOfProductLabel(product: string): GpuType | undefined {
  return GPU_TYPES.find((type) => kubernetesProductLabel(type) === product);
}

const isPoolId = (id: string): id is GpuPoolId => GPU_POOLS.has(id as GpuPoolId);

/** True for a known type id or pool id, with or without the leading `-` that excludes it. */
export function isKnownGpuTypeOrPool(entry: string): boolean {
  const id = entry.startsWith("-") ? entry.slice(1) : entry;
  return TYPES_BY_ID.has(id) || isPoolId(id);
}

/** A hint for a near miss: the known id that differs only in case or spacing, if there is one. */
export function suggestGpuId(entry: string): string | undefined {
  const squash = (s: string) => s.replace(/^-/, "").replace(/[\s_-]+/g, "").toLowerCase();
  const wanted = squash(entry);
  return [...TYPES_BY_ID.keys(), ...GPU_POOLS.keys()].find((id) => squash(id) === wanted);
}

/**
 * Turns an endpoint's `gpuTypeIds` into the concrete type ids to try, in priority order, each once.
 * Entries are type ids or pool ids (a pool stands for its members, in table order). An entry with a leading
 * `-` excludes that type or pool wherever it appears in the list. A list with nothing but exclusions (or
 * nothing at all) starts from every known type. Unknown entries must have been refused already
 * (isKnownGpuTypeOrPool); they are ignored here.
 */
export function resolveGpuTypeIds(entries: readonly string[]): string[] {
  const expand = (id: string): readonly string[] => (isPoolId(id) ? GPU_POOLS.get(id)! : TYPES_BY_ID.has(id) ? [id] : []);
  const included = entries.filter((e) => !e.startsWith("-"));
  const excluded = new Set(entries.filter((e) => e.startsWith("-")).flatMap((e) => expand(e.slice(1))));
  const wanted = included.length > 0 ? included.flatMap(expand) : GPU_TYPES.map((type) => type.id);
  return [...new Set(wanted)].filter((id) => !excluded.has(id));
}
