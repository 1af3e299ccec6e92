/**
 * Who may call each route: the one table the control plane enforces (server/api/authorize.ts). A route missing
 * here cannot be registered: the server refuses to start, and test/server/access.test.ts walks every route of this
 * table with every kind of key.
 *
 * - public: anyone (health checks, the OpenAPI document, the page's static files, which hold no data);
 * - worker: the worker key of the endpoint in the path (runpod-python's worker protocol);
 * - read: a `read` or `admin` key (the admin and monitoring reads, /metrics: what a dashboard needs);
 * - admin: an `admin` key (every write, and reads that hand out secrets, such as a worker's env);
 * - run: an `admin` key, or a `run` key naming the endpoint in the path (RunPod's client API).
 *
 * `rate` names the client API's rate-limit group (server/api/rate-limits.ts); /health has none, as at RunPod.
 */
export type Access = "public" | "worker" | "read" | "admin" | "run";
export type RateGroup = "run" | "sync" | "cancel" | "purgeQueue";

export interface RouteRule {
  access: Access;
  rate?: RateGroup;
}

const crud = (prefix: string): Record<string, RouteRule> => ({
  [`GET ${prefix}`]: { access: "read" },
  [`POST ${prefix}`]: { access: "admin" },
  [`GET ${prefix}/:id`]: { access: "read" },
  [`PUT ${prefix}/:id`]: { access: "admin" },
  [`PATCH ${prefix}/:id`]: { access: "admin" },
  [`DELETE ${prefix}/:id`]: { access: "admin" },
});

export const ROUTES: Readonly<Record<string, RouteRule>> = {
  "GET /healthz": { access: "public" },
  "GET /readyz": { access: "public" },
  "GET /openapi.json": { access: "public" },
  "GET /ui": { access: "public" },
  "GET /ui/": { access: "public" },
  "GET /ui/:file": { access: "public" },

  "POST /v2/:endpointId/run": { access: "run", rate: "run" },
  "POST /v2/:endpointId/runsync": { access: "run", rate: "sync" },
  "GET /v2/:endpointId/status/:jobId": { access: "run", rate: "sync" },
  "GET /v2/:endpointId/status-sync/:jobId": { access: "run", rate: "sync" },
  "GET /v2/:endpointId/stream/:jobId": { access: "run", rate: "sync" },
  "POST /v2/:endpointId/cancel/:jobId": { access: "run", rate: "cancel" },
  "POST /v2/:endpointId/retry/:jobId": { access: "run", rate: "run" },
  "POST /v2/:endpointId/purge-queue": { access: "run", rate: "purgeQueue" },
  "GET /v2/:endpointId/health": { access: "run" },
  // RunPod lists /openai/* with /runsync: the same limits.
  "POST /v2/:endpointId/openai/v1/chat/completions": { access: "run", rate: "sync" },
  "POST /v2/:endpointId/openai/v1/completions": { access: "run", rate: "sync" },
  "POST /v2/:endpointId/openai/v1/embeddings": { access: "run", rate: "sync" },
  "GET /v2/:endpointId/openai/v1/models": { access: "run", rate: "sync" },

  "GET /v2/:endpointId/job-take/:workerId": { access: "worker" },
  "GET /v2/:endpointId/job-take-batch/:workerId": { access: "worker" },
  "POST /v2/:endpointId/job-done/:workerId/:jobId": { access: "worker" },
  "POST /v2/:endpointId/job-stream/:workerId/:jobId": { access: "worker" },
  "GET /v2/:endpointId/ping/:workerId": { access: "worker" },
  "GET /v2/:endpointId/job-stop/:workerId": { access: "worker" },

  ...crud("/admin/templates"),
  ...crud("/admin/endpoints"),
  ...crud("/admin/network-volumes"),
  "GET /admin/endpoints/:id/revisions": { access: "read" },
  // The worker key and every env value in plain text: as good as admin.
  "GET /admin/endpoints/:id/worker-env": { access: "admin" },
  "GET /admin/endpoints/:id/workers": { access: "read" },
  "GET /admin/gpu-types": { access: "read" },
  "GET /admin/overview": { access: "read" },
  "GET /admin/events": { access: "read" },
  "GET /admin/endpoints/:id/overview": { access: "read" },
  "GET /admin/endpoints/:id/jobs": { access: "read" },
  "GET /admin/endpoints/:id/jobs/:jobId": { access: "read" },
  "GET /admin/jobs/:jobId": { access: "read" },
  // Operators' data like the rest of the workers view: a worker that prints a secret has leaked it already.
  "GET /admin/endpoints/:id/logs": { access: "read" },
  "GET /admin/endpoints/:id/history": { access: "read" },
  "GET /admin/usage": { access: "read" },
  "GET /metrics": { access: "read" },

  "POST /admin/keys": { access: "admin" },
  "GET /admin/keys": { access: "read" },
  "GET /admin/keys/:id": { access: "read" },
  "DELETE /admin/keys/:id": { access: "admin" },
  "GET /admin/audit": { access: "read" },
};

/** The rule of a route as fastify registers it; HEAD (which fastify adds for each GET) follows its GET. */
export function ruleFor(method: string, url: string): RouteRule | undefined {
  return ROUTES[`${method === "HEAD" ? "GET" : method} ${url}`];
}
