import type { UsageRun } from "./usage-store";

/** Prices per GPU-second by GPU type id, and the discount active workers get (0.2 = 20% off). */
export interface UsagePrices {
  perGpuSecond: ReadonlyMap<string, number>;
  activeDiscount: number;
}

export interface UsageLine {
  endpointId: string;
  workerType: string;
  gpuTypeId?: string;
  /** Seconds at least one job was running on a worker of this line (a worker running two jobs at once counts once). */
  seconds: number;
  gpuSeconds: number;
  pricePerGpuSecond?: number;
  /** Undefined when no price is set for the GPU type. */
  cost?: number;
}

export interface UsageReport {
  from: string;
  to: string;
  lines: UsageLine[];
  total: { seconds: number; gpuSeconds: number; cost: number };
  /** GPU types that ran without a price: their lines have no cost and are left out of the total cost. */
  unpriced: string[];
}

/**
 * Usage as RunPod bills it: the seconds a worker is running jobs, by endpoint, worker type and GPU type; idle time
 * costs nothing. Each run is clipped to [from, to); a worker's overlapping runs (concurrency above 1) are merged,
 * so it is billed once for time it spends on two jobs. A merged stretch takes its type and GPUs from its first run.
 * Active workers get `activeDiscount` off.
 */
export function usageReport(runs: readonly UsageRun[], from: number, to: number, prices: UsagePrices): UsageReport {
  const lines = new Map<string, UsageLine>();
  const add = (run: UsageRun, ms: number) => {
    const key = `${run.endpointId}\u0000${run.workerType}\u0000${run.gpuTypeId ?? ""}`;
    const line = lines.get(key) ?? { endpointId: run.endpointId, workerType: run.workerType, gpuTypeId: run.gpuTypeId, seconds: 0, gpuSeconds: 0 };
    line.seconds += ms / 1000;
    line.gpuSeconds += (ms / 1000) * run.gpuCount;
    lines.set(key, line);
  };
  let current: { run: UsageRun; start: number; end: number } | undefined;
  for (const run of runs) {
    const start = Math.max(run.startedAt, from);
    const end = Math.min(run.endedAt, to);
    if (end <= start) continue;
    if (current && current.run.workerId === run.workerId && start <= current.end) {
      current.end = Math.max(current.end, end);
      continue;
    }
    if (current) add(current.run, current.end - current.start);
    current = { run, start, end };
  }
  if (current) add(current.run, current.end - current.start);

  const unpriced = new Set<string>();
  const total = { seconds: 0, gpuSeconds: 0, cost: 0 };
  const priced = [...lines.values()].map((line) => {
    const price = line.gpuTypeId === undefined ? undefined : prices.perGpuSecond.get(line.gpuTypeId);
    total.seconds += line.seconds;
    total.gpuSeconds += line.gpuSeconds;
    if (price === undefined) {
      unpriced.add(line.gpuTypeId ?? "unknown GPU");
      return line;
    }
    const cost = line.gpuSeconds * price * (line.workerType === "active" ? 1 - prices.activeDiscount : 1);
    total.cost += cost;
    return { ...line, pricePerGpuSecond: price, cost };
  });
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), lines: priced, total, unpriced: [...unpriced] };
}
