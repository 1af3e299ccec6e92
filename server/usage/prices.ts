import { GPU_POOLS, gpuType, suggestGpuId, type GpuPoolId } from "../resources/gpu-types";

/**
 * `--gpu-prices`: "<GPU type or pool>=<price per GPU-second>[;...]", e.g.
 * "NVIDIA H100 80GB HBM3=0.00116;ADA_24=0.00019". A pool sets each of its types; a type named on its own wins over
 * its pool, whatever the order. Prices are in whatever currency the operator bills in.
 */
export function parseGpuPrices(setting: string | undefined): Map<string, number> {
  const prices = new Map<string, number>();
  if (!setting?.trim()) return prices;
  const problems: string[] = [];
  const fromPools = new Map<string, number>();
  for (const entry of setting.split(";").map((e) => e.trim()).filter(Boolean)) {
    const at = entry.lastIndexOf("=");
    const name = entry.slice(0, at).trim();
    const price = Number(entry.slice(at + 1));
    if (at <= 0 || !Number.isFinite(price) || price < 0) {
      problems.push(`"${entry}": must be <GPU type or pool>=<price per GPU-second, a number >= 0>`);
      continue;
    }
    const pool = GPU_POOLS.get(name as GpuPoolId);
    if (pool) for (const id of pool) fromPools.set(id, price);
    else if (gpuType(name)) prices.set(name, price);
    else {
      const hint = suggestGpuId(name);
      problems.push(`"${name}" is not a GPU type or pool${hint ? `; did you mean "${hint}"?` : " (GET /admin/gpu-types lists them)"}`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid server configuration:\n  ${problems.map((p) => `--gpu-prices / BERTH_GPU_PRICES: ${p}`).join("\n  ")}`);
  for (const [id, price] of fromPools) if (!prices.has(id)) prices.set(id, price);
  return prices;
}
