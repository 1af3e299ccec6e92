import type https from "node:https";
import axios, { type AxiosInstance } from "axios";
import type { ControlPlaneProcess } from "./control-plane";

/**
 * Where a control plane's APIs answer: the process itself, or a load balancer in front of several; `httpsAgent`
 * trusts the CA of a TLS control plane's certificate.
 */
export type ApiTarget = Pick<ControlPlaneProcess, "url" | "apiKey"> & { httpsAgent?: https.Agent };

/** An axios client for a control plane's APIs with its API key; statuses are left to the caller to check. */
export function apiClient(cp: ApiTarget, key = cp.apiKey): AxiosInstance {
  return axios.create({ baseURL: cp.url, headers: { Authorization: `Bearer ${key}` }, validateStatus: () => true, httpsAgent: cp.httpsAgent });
}

export interface TestEndpoint {
  id: string;
  /** The environment `berth worker-env` gives a worker of this endpoint. */
  workerEnv: Record<string, string>;
}

/** Creates a template and an endpoint through the admin API, and fetches the endpoint's worker environment. */
export async function createEndpoint(cp: ApiTarget, endpoint: Record<string, unknown> = {}): Promise<TestEndpoint> {
  const api = apiClient(cp);
  const template = await api.post("/admin/templates", { name: `tpl-${Date.now()}`, imageName: "berth/test-worker:dev" });
  if (template.status !== 200) throw new Error(`creating a template: HTTP ${template.status} ${JSON.stringify(template.data)}`);
  const created = await api.post("/admin/endpoints", { name: `ep-${Date.now()}`, templateId: template.data.id, ...endpoint });
  if (created.status !== 200) throw new Error(`creating an endpoint: HTTP ${created.status} ${JSON.stringify(created.data)}`);
  const env = await api.get(`/admin/endpoints/${created.data.id}/worker-env`);
  if (env.status !== 200) throw new Error(`worker-env: HTTP ${env.status} ${JSON.stringify(env.data)}`);
  return { id: created.data.id, workerEnv: env.data.env };
}

/**
 * The endpoint as a worker sees it when its calls go to control plane `to` rather than `from`, the one whose
 * worker env it is (replicas on one database, or a store moved to another control plane).
 */
export function calling(endpoint: TestEndpoint, from: ControlPlaneProcess, to: ControlPlaneProcess): TestEndpoint {
  return { ...endpoint, workerEnv: Object.fromEntries(Object.entries(endpoint.workerEnv).map(([k, v]) => [k, v.replaceAll(from.url, to.url)])) };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` saying what it awaited. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The worker API spoken by hand, as a worker SDK would, for tests that need to control each step. */
export function workerClient(endpoint: TestEndpoint, workerId: string) {
  const env = endpoint.workerEnv;
  const http = axios.create({ headers: { Authorization: env.RUNPOD_AI_API_KEY! }, validateStatus: () => true });
  const url = (template: string, jobId = "") => template.replace("$RUNPOD_POD_ID", workerId).replace("$ID", jobId || workerId);
  return {
    take: (inProgress = 0) => http.get(`${url(env.RUNPOD_WEBHOOK_GET_JOB!)}&job_in_progress=${inProgress}`),
    done: (jobId: string, body: unknown) => http.post(`${url(env.RUNPOD_WEBHOOK_POST_OUTPUT!, jobId)}&isStream=false`, body),
    stream: (jobId: string, body: unknown) => http.post(`${url(env.RUNPOD_WEBHOOK_POST_STREAM!, jobId)}&isStream=false`, body),
    ping: (query = "") => http.get(`${url(env.RUNPOD_WEBHOOK_PING!)}${query}`),
    stops: () => http.get(url(env.RUNPOD_WEBHOOK_GET_JOB!).replace("/job-take/", "/job-stop/")),
  };
}
