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
 * A revision's whole worker environment, whatever runs it: the template's env, then the endpoint's, then the
 * control plane's worker env (`controlPlaneEnv`), each overriding the one before.
 */
export function revisionEnv(revision: EndpointRevision, controlPlaneEnv: Record<string, string>): Record<string, string> {
  return { ...revision.templateSpec.env, ...revision.spec.env, ...controlPlaneEnv };
}
