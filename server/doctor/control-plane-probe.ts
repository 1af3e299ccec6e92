import type https from "node:https";
import axios from "axios";
import { caBundleAgent, describeCallError } from "../ca-bundle";
import type { ControlPlaneFacts } from "./facts";
import { probe } from "./probe";

export interface ControlPlaneTarget {
  url: string;
  apiKey?: string;
  caBundle?: string;
}

/**
 * Is the control plane up (GET /healthz, which needs no key), and does it take the key (GET /admin/endpoints:
 * the cheapest read a `read` or `admin` key may make, server/api/route-access.ts)?
 */
export async function probeControlPlane(target: ControlPlaneTarget, timeoutMs: number): Promise<ControlPlaneFacts> {
  const base = target.url.replace(/\/+$/, "");
  let httpsAgent: https.Agent | undefined;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    if (target.caBundle) httpsAgent ??= caBundleAgent(target.caBundle, "--ca-bundle / BERTH_CA_BUNDLE");
    return axios
      .get(`${base}${path}`, { headers, timeout: timeoutMs, validateStatus: () => true, ...(httpsAgent && { httpsAgent }) })
      .catch((err: unknown) => {
        throw new Error(describeCallError(err, "--ca-bundle (or BERTH_CA_BUNDLE)"));
      });
  };

  const health = await probe(timeoutMs, async () => ({ status: (await get("/healthz")).status }));
  if (!health.ok || health.value.status !== 200 || !target.apiKey) return { url: target.url, health };

  const keyCheck = await probe(timeoutMs, async () => {
    const res = await get("/admin/endpoints", { Authorization: `Bearer ${target.apiKey}` });
    const body = res.data as { message?: string; details?: { scope?: string } } | unknown[] | undefined;
    if (Array.isArray(body)) return { status: res.status, endpoints: body.length };
    return { status: res.status, message: body?.message, scope: body?.details?.scope };
  });
  return { url: target.url, health, keyCheck };
}
