import type { AxiosInstance, AxiosResponse } from "axios";
import { describeCallError } from "../server/ca-bundle";
import { adminClient, caBundleFrom, connectionFrom, type Connection, type StackConfig } from "./connection";

let stackConfig: StackConfig | undefined;
/** How long a call waits for a control plane that refuses connections (one that is starting) before failing. */
const STARTING_CONTROL_PLANE_WAIT_MS = 60_000;
const clients = new Map<string, AxiosInstance>();

/** Called from each provider's configure(): the stack config says where the control plane is. */
export function configure(config: StackConfig): void {
  stackConfig = config;
  clients.clear();
}

/**
 * Inputs that name their control plane: a resource given a ControlPlane of the same program carries its URL and
 * (secret) key; every other resource uses the stack's connection.
 */
export interface ConnectionInputs {
  controlPlaneUrl?: unknown;
  controlPlaneApiKey?: unknown;
}

/** Kept through a refresh with `__provider`: a resource must still reach its control plane to be read or deleted. */
export const STATE_KEYS = ["__provider", "controlPlaneUrl", "controlPlaneApiKey"];

function connectionOf(inputs: ConnectionInputs): Connection {
  if (typeof inputs.controlPlaneUrl === "string" && typeof inputs.controlPlaneApiKey === "string") {
    return { url: inputs.controlPlaneUrl.replace(/\/+$/, ""), apiKey: inputs.controlPlaneApiKey, caBundle: caBundleFrom(stackConfig) };
  }
  return connectionFrom(stackConfig);
}

/** A refusal from the control plane, in its words: the field and the rule for a 400, what is missing for a 404. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly call: string,
    body: { message?: string; details?: Array<{ field: string; rule: string }> } | undefined,
  ) {
    super(`${call}: ${body?.message ?? `HTTP ${status}`}`);
    this.name = "AdminApiError";
  }
}

/** The admin API of the control plane a resource's inputs (or the stack) name. */
export function adminApi(inputs: ConnectionInputs) {
  const connection = connectionOf(inputs);
  const key = `${connection.url} ${connection.apiKey} ${connection.caBundle ?? ""}`;
  const client = clients.get(key) ?? adminClient(connection);
  clients.set(key, client);

  const call = async <T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, missingOk = false) => {
    let res: AxiosResponse;
    const deadline = Date.now() + STARTING_CONTROL_PLANE_WAIT_MS;
    for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
      try {
        res = await client.request({ method, url: path, data: body });
        break;
      } catch (err) {
        // A control plane created in the same `pulumi up` may still be starting: refused connections are retried.
        const code = (err as { code?: string }).code;
        if ((code === "ECONNREFUSED" || code === "ECONNRESET") && Date.now() + delay < deadline) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        const why = describeCallError(err, "the stack config berth:caBundle (or BERTH_CA_BUNDLE)");
        throw new Error(`Berth control plane at ${connection.url} did not answer ${method} /admin${path}: ${why}`);
      }
    }
    if (res.status === 404 && missingOk) return undefined;
    if (res.status >= 400) throw new AdminApiError(res.status, `${method} /admin${path}`, res.data);
    return res.data as T;
  };
  return {
    get: <T>(path: string) => call<T>("GET", path, undefined, true),
    create: async <T>(path: string, body: unknown) => (await call<T>("POST", path, body))!,
    replace: async <T>(path: string, body: unknown) => (await call<T>("PUT", path, body))!,
    remove: async (path: string) => void (await call("DELETE", path, undefined, true)),
  };
}
