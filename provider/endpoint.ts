import type { dynamic } from "@pulumi/pulumi";
import { endpointFields, endpointSpecSchema } from "../server/resources/schemas";
import { adminApi, STATE_KEYS } from "./admin-api";
import { changedKeys, containsUnknown, liveInputs, pick, validate, type CheckFailure } from "./inputs";
import { waitForNoWorkers, waitForRollout } from "./rollout-wait";
import { ResourceInitFailedError } from "./resource-init-failed";
import { unmaskEnv } from "./template";

export const ENDPOINT_KEYS = Object.keys(endpointFields.shape);
/** Inputs of the Endpoint resource that are not the admin API's: they steer the provider. */
const TEMPLATE_ROLLOUT_KEY = "templateRolloutKey";
const ROLLOUT_TIMEOUT = "rolloutTimeoutSeconds";
const DEFAULT_ROLLOUT_TIMEOUT_SECONDS = 1800;

interface EndpointView extends Record<string, unknown> {
  id: string;
  revision: number;
  clientBaseUrl: string;
  env: Record<string, string>;
}

/** The outputs beside the inputs: what clients need, and the revision (which changes only with an update). */
const outputs = (inputs: Record<string, unknown>, view: EndpointView) => ({
  ...inputs,
  revision: view.revision,
  clientBaseUrl: view.clientBaseUrl,
});

const timeoutOf = (inputs: Record<string, unknown>) => (typeof inputs[ROLLOUT_TIMEOUT] === "number" ? (inputs[ROLLOUT_TIMEOUT] as number) : DEFAULT_ROLLOUT_TIMEOUT_SECONDS);

/**
 * References found to exist by this provider host, which serves one `pulumi` command: a template that 200 endpoints
 * name is looked up once, not 200 times.
 */
const existing = new Set<string>();

/** The template and volume an endpoint names must exist; unknown ids (created in the same update) are checked at apply. */
async function checkReferences(news: Record<string, unknown>): Promise<CheckFailure[]> {
  const failures: CheckFailure[] = [];
  // A control plane created in the same update is not there to ask yet.
  if (containsUnknown(news.controlPlaneUrl)) return failures;
  const refs = [
    ["templateId", "templates", "template"],
    ["networkVolumeId", "network-volumes", "network volume"],
  ] as const;
  for (const [property, path, what] of refs) {
    const id = news[property];
    if (typeof id !== "string" || containsUnknown(id)) continue;
    const reference = `${String(news.controlPlaneUrl)} /${path}/${id}`;
    if (existing.has(reference)) continue;
    if (await adminApi(news).get(`/${path}/${id}`)) existing.add(reference);
    else failures.push({ property, reason: `${property}: ${what} ${id} does not exist` });
  }
  return failures;
}

/**
 * Endpoint: updated in place and never replaced, not even for a template change (unlike RunPod's own provider).
 * A template change reaches it as a new `templateRolloutKey`, so the same preview lists the endpoint as an update,
 * and its update waits for the rolling replacement the control plane started. Delete scales it to zero first,
 * so running jobs finish, then removes it.
 */
export const endpointProvider: dynamic.ResourceProvider = {
  async check(_olds, news) {
    const failures = validate(endpointSpecSchema, pick(news, ENDPOINT_KEYS));
    if (failures.length === 0) failures.push(...(await checkReferences(news)));
    return { inputs: news, failures };
  },

  async diff(_id, olds, news) {
    const changed = changedKeys(olds, news, [...ENDPOINT_KEYS, TEMPLATE_ROLLOUT_KEY]);
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs) {
    const created = await adminApi(inputs).create<EndpointView>("/endpoints", pick(inputs, ENDPOINT_KEYS));
    return { id: created.id, outs: outputs(inputs, created) };
  },

  async read(id, props) {
    const view = await adminApi(props).get<EndpointView>(`/endpoints/${id}`);
    if (!view) return { id: "", props: {} };
    const defaults = endpointSpecSchema.parse({ name: "x", templateId: "x" }) as Record<string, unknown>;
    const current = liveInputs({ ...view, env: unmaskEnv(view.env, props) }, props, ENDPOINT_KEYS, defaults);
    const inputs = { ...pick(props, [...STATE_KEYS, TEMPLATE_ROLLOUT_KEY, ROLLOUT_TIMEOUT]), ...current };
    return { id, props: outputs(inputs, view), inputs };
  },

  async update(id, _olds, news) {
    const api = adminApi(news);
    const view = await api.replace<EndpointView>(`/endpoints/${id}`, pick(news, ENDPOINT_KEYS));
    try {
      await waitForRollout(api, id, view.revision, timeoutOf(news));
    } catch (err) {
      // The control plane has the new spec: record it, as a resource that failed to initialize, so the next
      // `pulumi up` sees where things stand and waits for (or fixes) the rollout instead of skipping it.
      throw new ResourceInitFailedError(id, outputs(news, view), (err as Error).message);
    }
    return { outs: outputs(news, view) };
  },

  async delete(id, props) {
    const api = adminApi(props);
    const current = await api.get<Record<string, unknown>>(`/endpoints/${id}`);
    if (!current) return;
    // Masked secret values sent back are kept by the control plane, so the read spec can be written back as is.
    await api.replace(`/endpoints/${id}`, { ...pick(current, ENDPOINT_KEYS), workersMin: 0, workersMax: 0 });
    await waitForNoWorkers(api, id, timeoutOf(props));
    await api.remove(`/endpoints/${id}`);
  },
};
