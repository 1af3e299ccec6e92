import { GPU_POOLS, GPU_TYPES, gpuType, type GpuPoolId } from "../../server/resources/gpu-types";

/**
 * Will a model's weights fit the GPUs an endpoint may get? An estimate, made before anything is deployed, so a
 * 70B model on 24 GB cards fails at `pulumi preview` rather than as workers that crash loading it. GPU memory per
 * type and pool comes from the one GPU table (server/resources/gpu-types.ts).
 */

/** Bytes per parameter of each weights precision. */
export const DTYPE_BYTES = { fp32: 4, fp16: 2, bf16: 2, fp8: 1, int8: 1, int4: 0.5 } as const;
export type WeightsDtype = keyof typeof DTYPE_BYTES;
export const WEIGHTS_DTYPES = Object.keys(DTYPE_BYTES) as [WeightsDtype, ...WeightsDtype[]];

/**
 * What a worker needs beyond the weights: the KV cache, activations and the CUDA context. 20% is the margin
 * vLLM's own sizing guides use for a modest context; a long context needs more, which this does not judge.
 */
export const RUNTIME_OVERHEAD = 0.2;

export interface ModelSize {
  weightsGb: number;
  /** How the size was arrived at, for messages: "70B parameters in fp16: 140 GB of weights". */
  described: string;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** The weights' size from `modelSizeGb`, or from `parameters` (billions) and `dtype` (bf16 when absent). */
export function modelSize(options: { modelSizeGb?: number; parameters?: number; dtype?: WeightsDtype }): ModelSize | undefined {
  if (options.modelSizeGb !== undefined) return { weightsGb: options.modelSizeGb, described: `${round(options.modelSizeGb)} GB of weights` };
  if (options.parameters === undefined) return undefined;
  const dtype = options.dtype ?? "bf16";
  const weightsGb = options.parameters * DTYPE_BYTES[dtype];
  const assumed = options.dtype === undefined ? " (assumed)" : "";
  return { weightsGb, described: `${round(options.parameters)}B parameters in ${dtype}${assumed}: ${round(weightsGb)} GB of weights` };
}

/** GPU memory a worker needs in all: the weights plus the overhead, of which the engine may use `memoryFraction`. */
export function requiredGpuMemoryGb(size: ModelSize, memoryFraction: number): number {
  return (size.weightsGb * (1 + RUNTIME_OVERHEAD)) / memoryFraction;
}

const isPool = (id: string): id is GpuPoolId => GPU_POOLS.has(id as GpuPoolId);

/** The type ids an entry of gpuTypeIds stands for, less the excluded ones. */
function typesOf(entry: string, excluded: ReadonlySet<string>): string[] {
  const ids = isPool(entry) ? [...GPU_POOLS.get(entry)!] : gpuType(entry) ? [entry] : [];
  return ids.filter((id) => !excluded.has(id));
}

/** GB per GPU an entry guarantees: the smallest of its types, since the scheduler may hand out any of them. */
function entryMemoryGb(entry: string, excluded: ReadonlySet<string>): number | undefined {
  const sizes = typesOf(entry, excluded).map((id) => gpuType(id)!.memoryGb);
  return sizes.length > 0 ? Math.min(...sizes) : undefined;
}

const poolMemoryGb = (pool: GpuPoolId) => entryMemoryGb(pool, new Set())!;

/** The pools a model fits with `gpuCount` GPUs: the smallest memory tier that fits and the next (for availability). */
export function recommendPools(size: ModelSize, gpuCount: number, memoryFraction: number): GpuPoolId[] {
  const need = requiredGpuMemoryGb(size, memoryFraction);
  const fitting = [...GPU_POOLS.keys()].filter((pool) => poolMemoryGb(pool) * gpuCount >= need);
  const tiers = [...new Set(fitting.map(poolMemoryGb))].sort((a, b) => a - b).slice(0, 2);
  return fitting.filter((pool) => tiers.includes(poolMemoryGb(pool))).sort((a, b) => poolMemoryGb(a) - poolMemoryGb(b));
}

/** The fewest GPUs per worker (up to 8, the endpoint's limit) of the largest pool that hold the model, if any. */
function fewestGpus(size: ModelSize, memoryFraction: number): { pool: GpuPoolId; gpuCount: number } | undefined {
  const largest = [...GPU_POOLS.keys()].sort((a, b) => poolMemoryGb(b) - poolMemoryGb(a))[0]!;
  const gpuCount = Math.ceil(requiredGpuMemoryGb(size, memoryFraction) / poolMemoryGb(largest));
  return gpuCount <= 8 ? { pool: largest, gpuCount } : undefined;
}

export interface FitProblem {
  /** The option at fault, as the user named it. */
  field: "gpuTypeIds" | "gpuCount";
  message: string;
}

/**
 * Every GPU type the endpoint may be given must hold the model: an entry of `gpuTypeIds` (a pool stands for its
 * smallest member) whose memory times `gpuCount` is short is refused, naming it. With no `gpuTypeIds`, the check is
 * that some pool fits at all.
 */
export function checkFit(size: ModelSize, gpuTypeIds: readonly string[], gpuCount: number, memoryFraction: number): FitProblem | undefined {
  const need = requiredGpuMemoryGb(size, memoryFraction);
  const why = `the model needs ${round(need)} GB of GPU memory (${size.described}, +${RUNTIME_OVERHEAD * 100}% for the KV cache and activations, at a memory fraction of ${memoryFraction})`;
  const remedy = () => {
    const pools = recommendPools(size, gpuCount, memoryFraction);
    if (pools.length > 0) return `pools that hold it with gpuCount ${gpuCount}: ${pools.join(", ")}`;
    const more = fewestGpus(size, memoryFraction);
    return more ? `no pool holds it with gpuCount ${gpuCount}; ${more.pool} needs gpuCount ${more.gpuCount}` : "no pool holds it even with 8 GPUs";
  };
  if (!GPU_TYPES.some((t) => t.pool && t.memoryGb * gpuCount >= need) && gpuTypeIds.length === 0) {
    return { field: "gpuCount", message: `${gpuCount} GPU(s) per worker are too few: ${why}; ${remedy()}` };
  }
  const excluded = new Set(gpuTypeIds.filter((e) => e.startsWith("-")).flatMap((e) => typesOf(e.slice(1), new Set())));
  for (const entry of gpuTypeIds.filter((e) => !e.startsWith("-"))) {
    const memoryGb = entryMemoryGb(entry, excluded);
    if (memoryGb === undefined || memoryGb * gpuCount >= need) continue;
    return {
      field: "gpuTypeIds",
      message: `"${entry}" gives a worker ${round(memoryGb * gpuCount)} GB (${gpuCount} x ${memoryGb} GB), but ${why}; ${remedy()}`,
    };
  }
  return undefined;
}
