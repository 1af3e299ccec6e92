import crypto from "node:crypto";
import type { UrlTemplates } from "./urls";

/** Everything the worker reads from its environment: the same variables runpod-python reads. */
export interface WorkerEnv {
  urls: UrlTemplates;
  /** RUNPOD_POD_ID, or a uuid made up when it is absent (as runpod-python does). */
  workerId: string;
  /** Whether the worker id came from RUNPOD_POD_ID rather than being made up. */
  workerIdFromEnv: boolean;
  /** RUNPOD_AI_API_KEY: sent as a bare `Authorization: <key>` on every call. Never logged. */
  apiKey?: string;
  endpointId?: string;
  /** RUNPOD_PING_INTERVAL in ms (default 10000). */
  pingIntervalMs: number;
  /** RUNPOD_POD_HOSTNAME, for error reports. */
  hostname?: string;
  /** RUNPOD_DEBUG_LEVEL, lower-cased. */
  logLevel?: string;
}

export const DEFAULT_PING_INTERVAL_MS = 10_000;
/** A shorter interval would hammer the control plane; runpod-python's whole-second rounding makes < 1 s mean 0 s. */
export const MIN_PING_INTERVAL_MS = 100;

export class WorkerConfigError extends Error {
  override readonly name = "WorkerConfigError";
}

/**
 * Reads and checks the worker environment. A missing or malformed variable is an error naming the variable
 * and the rule, never a worker that polls a URL like "undefined&job_in_progress=0".
 */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env, makeId: () => string = crypto.randomUUID): WorkerEnv {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === "" ? undefined : raw.trim();
  };
  const url = (name: string, required: boolean, mustContain: string[]): string | undefined => {
    const raw = value(name);
    if (raw === undefined) {
      if (required) problems.push(`${name} is not set: it must be the worker API URL the control plane gives its workers`);
      return undefined;
    }
    if (!/^https?:\/\//i.test(raw)) problems.push(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
    for (const token of mustContain) {
      if (!raw.includes(token)) problems.push(`${name} must contain ${token} (substituted by the SDK), got ${JSON.stringify(raw)}`);
    }
    return raw;
  };

  const getJob = url("RUNPOD_WEBHOOK_GET_JOB", true, ["$ID"]);
  const postOutput = url("RUNPOD_WEBHOOK_POST_OUTPUT", true, ["$ID"]);
  const postStream = url("RUNPOD_WEBHOOK_POST_STREAM", false, ["$ID"]);
  const ping = url("RUNPOD_WEBHOOK_PING", false, []);

  let pingIntervalMs = DEFAULT_PING_INTERVAL_MS;
  const interval = value("RUNPOD_PING_INTERVAL");
  if (interval !== undefined) {
    const parsed = Number(interval);
    if (!Number.isFinite(parsed) || parsed <= 0) {
      problems.push(`RUNPOD_PING_INTERVAL must be a positive number of milliseconds, got ${JSON.stringify(interval)}`);
    } else {
      pingIntervalMs = Math.max(MIN_PING_INTERVAL_MS, Math.round(parsed));
    }
  }

  if (problems.length > 0) {
    throw new WorkerConfigError(`the worker environment is not usable:\n  ${problems.join("\n  ")}`);
  }

  const podId = value("RUNPOD_POD_ID");
  return {
    urls: { getJob: getJob!, postOutput: postOutput!, postStream, ping },
    workerId: podId ?? makeId(),
    workerIdFromEnv: podId !== undefined,
    apiKey: value("RUNPOD_AI_API_KEY"),
    endpointId: value("RUNPOD_ENDPOINT_ID"),
    pingIntervalMs,
    hostname: value("RUNPOD_POD_HOSTNAME"),
    logLevel: value("RUNPOD_DEBUG_LEVEL")?.toLowerCase(),
  };
}
