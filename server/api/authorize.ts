import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ApiKeys, KeyScope } from "../api-keys";
import { keyFromAuthorization, type Keys } from "../keys";
import type { ResourceStore } from "../store/resources";
import { ApiError } from "./errors";
import type { RateLimiter } from "./rate-limits";
import { ruleFor, type RouteRule } from "./route-access";

/** Who sent a request: the API key it carried, as the audit log and the rate limits name it. */
export interface Caller {
  keyId: string;
  keyName: string;
  scope: KeyScope;
  /** The endpoints a `run` key may call. */
  endpointIds: readonly string[];
}

/** The keys given at start-up (`--api-key`, or the one made in the data directory): admin keys, as ever. */
export const BOOTSTRAP_CALLER: Caller = { keyId: "bootstrap", keyName: "bootstrap", scope: "admin", endpointIds: [] };

declare module "fastify" {
  interface FastifyContextConfig {
    rule?: RouteRule;
  }
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export interface AccessDeps {
  keys: Keys;
  apiKeys: ApiKeys;
  resources: ResourceStore;
  rateLimiter: RateLimiter;
  now: () => number;
}

/**
 * Enforces server/api/route-access.ts for every route registered after this call: a route without a rule there
 * cannot be registered, and each request is checked before its body is read: 401 for no key or one that is not
 * (or no longer) a key, 403 for a key without the scope or the endpoint, 429 over the client API's rate limits.
 */
export function enforceAccess(app: FastifyInstance, deps: AccessDeps): void {
  app.decorateRequest("caller", null);
  app.addHook("onRoute", (route) => {
    const methods = [route.method].flat();
    const rules = methods.map((method) => ruleFor(method, route.url));
    if (rules[0] === undefined || rules.some((rule) => rule !== rules[0])) {
      throw new Error(`${methods.join(",")} ${route.url} has no rule in server/api/route-access.ts: every route declares who may call it`);
    }
    route.config = { ...route.config, rule: rules[0] };
  });

  app.addHook("onRequest", async (request, reply) => {
    const rule = request.routeOptions.config.rule;
    // No rule: no route matched, and the not-found handler answers.
    if (rule === undefined || rule.access === "public") return;
    const endpointId = (request.params as { endpointId?: string }).endpointId;
    if (rule.access === "worker") return requireWorkerKey(deps.keys, request, endpointId!);

    const caller = await authenticate(deps, request);
    authorize(caller, rule, endpointId);
    request.caller = caller;
    if (rule.rate === undefined || endpointId === undefined) return;
    const admission = deps.rateLimiter.admit(caller.keyId, endpointId, rule.rate, deps.resources.getEndpoint(endpointId)?.spec.rateLimits);
    if (admission.admitted) {
      reply.raw.once("close", admission.release);
      return;
    }
    return reply
      .code(429)
      .header("retry-after", String(admission.retryAfterSeconds))
      .send({
        error: "rate_limited",
        message: `API key ${caller.keyName} (${caller.keyId}) is over the limit of endpoint ${endpointId}: ${admission.rule}; retry after ${admission.retryAfterSeconds} s`,
        details: { endpointId, keyId: caller.keyId, limit: admission.rule, retryAfterSeconds: admission.retryAfterSeconds },
      });
  });
}

async function authenticate(deps: AccessDeps, request: FastifyRequest): Promise<Caller> {
  const token = keyFromAuthorization(request.headers.authorization);
  if (!token) throw new ApiError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>");
  if (deps.keys.isApiKey(token)) return BOOTSTRAP_CALLER;
  const record = await deps.apiKeys.verify(token, deps.now());
  if (!record) throw new ApiError(401, "unauthorized", "API key not accepted: it is not a key of this control plane, or it was revoked or has expired");
  return { keyId: record.id, keyName: record.name, scope: record.scope, endpointIds: record.endpointIds };
}

/** Throws the 403 naming what the key lacks: the scope the route needs, or the endpoint. */
function authorize(caller: Caller, rule: RouteRule, endpointId: string | undefined): void {
  if (caller.scope === "admin") return;
  const key = `API key ${caller.keyName} (${caller.keyId}) has scope ${caller.scope}`;
  const refuse = (needed: string, message: string) =>
    new ApiError(403, "forbidden", message, { needed, keyId: caller.keyId, scope: caller.scope, ...(endpointId ? { endpointId } : {}) });
  if (rule.access === "read" && caller.scope === "read") return;
  if (rule.access === "run" && caller.scope === "run") {
    if (endpointId !== undefined && caller.endpointIds.includes(endpointId)) return;
    throw refuse(`run:${endpointId}`, `${key} for endpoints ${caller.endpointIds.join(", ")} only, not endpoint ${endpointId}`);
  }
  const needed = rule.access === "run" ? `run:${endpointId}` : rule.access;
  throw refuse(needed, `${key}; this route needs ${rule.access === "read" ? "a read or admin key" : rule.access === "run" ? `a run key for endpoint ${endpointId}` : "an admin key"}`);
}

function requireWorkerKey(keys: Keys, request: FastifyRequest, endpointId: string): void {
  const key = keyFromAuthorization(request.headers.authorization);
  if (!key) throw new ApiError(401, "unauthorized", "missing worker key: send Authorization: <key>");
  if (!keys.isWorkerKey(endpointId, key)) {
    throw new ApiError(401, "unauthorized", `key not accepted for the worker API of endpoint ${endpointId}`);
  }
}
