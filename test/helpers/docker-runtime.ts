import fs from "node:fs";
import path from "node:path";
import type { AxiosInstance } from "axios";
import { DockerEngine } from "../../server/runtimes/docker/engine";
import { ControlPlaneProcess } from "./control-plane";
import { apiClient, eventually } from "./endpoint";
import { ensureWorkerImage } from "./worker-image";

/** Settings that make the fleet react within a second or two, so tests need not wait out production defaults. */
const FAST_FLEET = {
  BERTH_RUNTIME: "docker",
  BERTH_RECONCILE_INTERVAL_MS: "200",
  BERTH_PING_INTERVAL_MS: "1000",
  BERTH_LONG_POLL_MS: "2000",
  BERTH_WORKER_LOST_AFTER_MS: "5000",
  BERTH_SWEEP_INTERVAL_MS: "200",
  BERTH_STOP_GRACE_MS: "2000",
  BERTH_RESTART_BACKOFF_MS: "500",
  BERTH_RESTART_BACKOFF_MAX_MS: "4000",
  BERTH_EXTRA_WORKERS: "0",
};

export interface WorkerView {
  id: string;
  type: "active" | "flex" | "extra";
  state: string;
  revision: number;
  gpus: { ids: string[]; typeId?: string; simulated: boolean };
  frozen: boolean;
  draining: boolean;
  reason?: string;
  restarts: number;
  jobsInProgress: number;
}

export interface EndpointWorkers {
  revision: number;
  workers: WorkerView[];
  throttled: { count: number; reason?: string };
  rollout: { revision: number; state: string; outdated: number; batchSize: number; reason?: string };
}

/**
 * A real control plane running its workers as containers on the test bed's Docker engine, from the test worker
 * image, with a simulated GPU inventory (no GPUs here). `close` also removes the containers it left: a stopped
 * control plane leaves its workers running by design.
 */
export class DockerRuntime {
  readonly engine = DockerEngine.fromEnv();

  private constructor(
    public cp: ControlPlaneProcess,
    readonly image: string,
    readonly controlPlaneId: string,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<DockerRuntime> {
    const image = await ensureWorkerImage();
    const cp = await ControlPlaneProcess.start({ env: { ...FAST_FLEET, BERTH_SIMULATED_GPUS: "NVIDIA GeForce RTX 4090=8", ...env } });
    const controlPlaneId = fs.readFileSync(path.join(cp.dataDir, "control-plane-id"), "utf8").trim();
    return new DockerRuntime(cp, image, controlPlaneId);
  }

  get api(): AxiosInstance {
    return apiClient(this.cp);
  }

  /** A template on the test worker image (overridable), and an endpoint on it. */
  async createEndpoint(endpoint: Record<string, unknown> = {}, template: Record<string, unknown> = {}): Promise<{ id: string; templateId: string }> {
    const t = await this.api.post("/admin/templates", { name: `tpl-${Date.now()}`, imageName: this.image, ...template });
    if (t.status !== 200) throw new Error(`creating a template: HTTP ${t.status} ${JSON.stringify(t.data)}`);
    const e = await this.api.post("/admin/endpoints", { name: `ep-${Date.now()}`, templateId: t.data.id, gpuTypeIds: ["NVIDIA GeForce RTX 4090"], ...endpoint });
    if (e.status !== 200) throw new Error(`creating an endpoint: HTTP ${e.status} ${JSON.stringify(e.data)}`);
    return { id: e.data.id, templateId: t.data.id };
  }

  async workers(endpointId: string): Promise<EndpointWorkers> {
    const res = await this.api.get(`/admin/endpoints/${endpointId}/workers`);
    if (res.status !== 200) throw new Error(`workers of ${endpointId}: HTTP ${res.status} ${JSON.stringify(res.data)}`);
    return res.data;
  }

  /** Polls the endpoint's workers until `accept` returns something. */
  until<T>(what: string, endpointId: string, accept: (w: EndpointWorkers) => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    return eventually(what, async () => accept(await this.workers(endpointId)), timeoutMs);
  }

  /** The containers of this control plane (of one endpoint when given), as the engine lists them. */
  containers(endpointId?: string) {
    return this.engine.listContainers({
      "berth.control-plane": this.controlPlaneId,
      ...(endpointId ? { "berth.endpoint": endpointId } : {}),
    });
  }

  async submit(endpointId: string, input: unknown, policy?: Record<string, unknown>): Promise<string> {
    const res = await this.api.post(`/v2/${endpointId}/run`, { input, ...(policy ? { policy } : {}) });
    if (res.status !== 200) throw new Error(`/run: HTTP ${res.status} ${JSON.stringify(res.data)}`);
    return res.data.id;
  }

  /** Waits until the job has ended and returns its status body. */
  ended(endpointId: string, jobId: string, timeoutMs = 60_000): Promise<{ id: string; status: string; output?: any; error?: string; workerId?: string }> {
    return eventually(
      `job ${jobId} to end`,
      async () => {
        const res = await this.api.get(`/v2/${endpointId}/status/${jobId}`);
        return ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"].includes(res.data.status) ? res.data : undefined;
      },
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    await this.cp.stop();
    for (const container of await this.containers()) await this.engine.removeContainer(container.Id);
    this.cp.removeData();
  }
}
