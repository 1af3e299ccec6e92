import type { GpuInventory } from "../../policy/worker-model";
import { sampleGpuUtilization } from "./gpu-inventory";
import type { ResourceSampler, ResourceUse } from "../worker-runtime";
import type { ContainerStats, DockerEngine } from "../../../docker-engine/engine";
import { containerName } from "./docker-driver";

interface CpuCounters {
  total: number;
  system: number;
}

/**
 * Samples the CPU and memory of this control plane's worker containers (the engine's stats API) and, with real
 * GPUs, their utilization (nvidia-smi), every few seconds, for the workers view. Off the request path: a page
 * refresh never waits for the engine.
 */
export class DockerResourceSampler implements ResourceSampler {
  private readonly latest = new Map<string, ResourceUse>();
  private readonly previous = new Map<string, CpuCounters>();
  private gpuUtilization = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly engine: DockerEngine,
    private readonly inventory: GpuInventory,
    /** The workers to sample: those running now, with their GPU device ids. */
    private readonly workers: () => Array<{ id: string; gpuIds: string[] }>,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    const tick = async () => {
      await this.sample().catch(() => undefined);
      if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
    };
    void tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  use(workerId: string, gpuIds: string[]): ResourceUse {
    const sampled = this.latest.get(workerId) ?? { note: "not sampled yet" };
    if (this.inventory.source === "simulated") return { ...sampled, note: "GPU use: simulated GPUs" };
    if (this.inventory.source !== "nvidia-smi") return { ...sampled, note: "GPU use: no nvidia-smi on this host" };
    const utilization = gpuIds.map((id) => this.gpuUtilization.get(id)).filter((u): u is number => u !== undefined);
    if (utilization.length === 0) return sampled;
    return { ...sampled, gpuPercent: utilization.reduce((a, b) => a + b, 0) / utilization.length };
  }

  private async sample(): Promise<void> {
    const workers = this.workers();
    const live = new Set(workers.map((w) => w.id));
    for (const id of [...this.latest.keys()]) {
      if (live.has(id)) continue;
      this.latest.delete(id);
      this.previous.delete(id);
    }
    for (const worker of workers) {
      const stats = await this.engine.containerStats(containerName(worker.id));
      if (stats) this.latest.set(worker.id, this.read(worker.id, stats));
    }
    if (this.inventory.source === "nvidia-smi") this.gpuUtilization = await sampleGpuUtilization();
  }

  /** CPU as a rate needs two samples: the first reading of a worker has memory only. */
  private read(workerId: string, stats: ContainerStats): ResourceUse {
    const counters = { total: stats.cpu_stats.cpu_usage.total_usage, system: stats.cpu_stats.system_cpu_usage ?? 0 };
    const before = this.previous.get(workerId);
    this.previous.set(workerId, counters);
    const cores = stats.cpu_stats.online_cpus ?? 1;
    const systemDelta = before ? counters.system - before.system : 0;
    const cpuPercent = before && systemDelta > 0 ? ((counters.total - before.total) / systemDelta) * cores * 100 : undefined;
    const memory = stats.memory_stats;
    // What `docker stats` shows: usage less the page cache the kernel can drop.
    const cache = memory.stats?.inactive_file ?? memory.stats?.total_inactive_file ?? 0;
    return {
      cpuPercent: cpuPercent === undefined ? undefined : Math.round(cpuPercent * 10) / 10,
      memoryBytes: memory.usage === undefined ? undefined : memory.usage - cache,
      memoryLimitBytes: memory.limit,
    };
  }
}
