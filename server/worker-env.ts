import type { ServerConfig } from "./config";
import type { Keys } from "./keys";
import type { EndpointRevision } from "./store/resources";

/**
 * The environment a RunPod-compatible worker needs to serve one endpoint from this control plane: the URLs of
 * the worker API in the shape runpod-python substitutes ($ID, $RUNPOD_POD_ID), the endpoint's worker key and
 * the ping interval. A worker id (RUNPOD_POD_ID) is added when given; without one, the SDK makes one up.
 */
export function workerEnv(
  config: Pick<ServerConfig, "pingIntervalMs">,
  publicUrl: string,
  keys: Keys,
  endpointId: string,
  workerId?: string,
): Record<string, string> {
  const base = `${publicUrl.replace(/\/+$/, "")}/v2/${encodeURIComponent(endpointId)}`;
  const env: Record<string, string> = {
    RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?`,
    RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?`,
    RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?`,
    RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID`,
    RUNPOD_AI_API_KEY: keys.workerKey(endpointId),
    RUNPOD_ENDPOINT_ID: endpointId,
    RUNPOD_PING_INTERVAL: String(config.pingIntervalMs),
  };
  if (workerId) env.RUNPOD_POD_ID = workerId;
  return env;
}

/**
 * Berth's defaults for every worker it runs or describes, under the template's and the endpoint's env, so a user
 * can set any of them back. runpod-python (1.9 and later) runs start-up "fitness checks" before its worker loop;
 * one opens a TCP connection to 8.8.8.8:53 and the worker exits with status 1 when it fails, which is every
 * time on a private or air-gapped GPU cluster. No variable turns that check off alone: this one skips the system
 * checks (memory, disk, network, CUDA version and benchmark). The GPU test binary still runs where nvidia-smi works.
 */
export const WORKER_ENV_DEFAULTS: Readonly<Record<string, string>> = { RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true" };

/** The endpoint's own env as its template and endpoint set it: template first, then the endpoint, which wins. */
function userEnv(revision: EndpointRevision): Record<string, string> {
  return { ...revision.templateSpec.env, ...revision.spec.env };
}

/**
 * A revision's whole worker environment, whatever runs it: Berth's defaults, the template's env, then the
 * endpoint's, then the control plane's worker env (`controlPlaneEnv`), each overriding the one before.
 */
export function revisionEnv(revision: EndpointRevision, controlPlaneEnv: Record<string, string>): Record<string, string> {
  return { ...WORKER_ENV_DEFAULTS, ...userEnv(revision), ...controlPlaneEnv };
}

/** Berth's defaults as a revision leaves them (a template or endpoint value wins): for workers run by hand. */
export function defaultsFor(revision: EndpointRevision | undefined): Record<string, string> {
  const env = revision ? userEnv(revision) : {};
  return Object.fromEntries(Object.entries(WORKER_ENV_DEFAULTS).map(([key, value]) => [key, env[key] ?? value]));
}
