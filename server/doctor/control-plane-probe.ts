import { callControlPlane, type ControlPlaneAddress } from "../control-plane-call";
import type { ControlPlaneFacts } from "./facts";
import { probe } from "./probe";

export interface ControlPlaneTarget extends ControlPlaneAddress {
  apiKey?: string;
}

/**
 * Is the control plane up (GET /healthz, which needs no key), and does it take the key (GET /admin/endpoints:
 * the cheapest read a `read` or `admin` key may make, server/api/route-access.ts)?
 */
export async function probeControlPlane(target: ControlPlaneTarget, timeoutMs: number): Promise<ControlPlaneFacts> {
  const get = (path: string, headers: Record<string, string> = {}) => callControlPlane(target, path, { headers, timeout: timeoutMs });

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
