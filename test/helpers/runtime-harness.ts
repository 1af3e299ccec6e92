import type { AxiosInstance } from "axios";
import type { ControlPlaneProcess } from "./control-plane";
import { apiClient, eventually } from "./endpoint";

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
  node?: string;
}

export interface EndpointWorkers {
  revision: number;
  workers: WorkerView[];
  throttled: { count: number; reason?: string };
  rollout: { revision: number; state: string; outdated: number; batchSize: number; reason?: string };
}

/** What runtime tests do through a real control plane's APIs, whatever runtime it drives. */
export class RuntimeHarness {
  constructor(
    public cp: ControlPlaneProcess,
    readonly image: string,
    /** The GPU types endpoints made by createEndpoint ask for, unless they say otherwise. */
    private readonly gpuTypeIds: string[],
  ) {}

  get api(): AxiosInstance {
    return apiClient(this.cp);
  }

  /** A template on the test worker image (overridable), and an endpoint on it. */
  async createEndpoint(endpoint: Record<string, unknown> = {}, template: Record<string, unknown> = {}): Promise<{ id: string; templateId: string }> {
    const t = await this.api.post("/admin/templates", { name: `tpl-${Date.now()}`, imageName: this.image, ...template });
    if (t.status !== 200) throw new Error(`creating a template: HTTP ${t.status} ${JSON.stringify(t.data)}`);
    const e = await this.api.post("/admin/endpoints", { name: `ep-${Date.now()}`, templateId: t.data.id, gpuTypeIds: this.gpuTypeIds, ...endpoint });
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
}
