import type { AxiosInstance, AxiosResponse } from "axios";
import { adminClient, connectionFrom, type StackConfig } from "./connection";

let client: AxiosInstance | undefined;
let stackConfig: StackConfig | undefined;

/** Called from each provider's configure(): the stack config says where the control plane is. */
export function configure(config: StackConfig): void {
  stackConfig = config;
  client = undefined;
}

function api(): AxiosInstance {
  client ??= adminClient(connectionFrom(stackConfig));
  return client;
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

async function call<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, missingOk = false): Promise<T | undefined> {
  let res: AxiosResponse;
  try {
    res = await api().request({ method, url: path, data: body });
  } catch (err) {
    throw new Error(`Berth control plane at ${connectionFrom(stackConfig).url} did not answer ${method} /admin${path}: ${(err as Error).message}`);
  }
  if (res.status === 404 && missingOk) return undefined;
  if (res.status >= 400) throw new AdminApiError(res.status, `${method} /admin${path}`, res.data);
  return res.data as T;
}

export const adminApi = {
  get: <T>(path: string) => call<T>("GET", path, undefined, true),
  create: async <T>(path: string, body: unknown) => (await call<T>("POST", path, body))!,
  replace: async <T>(path: string, body: unknown) => (await call<T>("PUT", path, body))!,
  remove: async (path: string) => void (await call("DELETE", path, undefined, true)),
};
