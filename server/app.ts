import path from "node:path";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import { catchUpWithOtherControlPlanes } from "./api/catch-up";
import { installErrorHandler } from "./api/errors";
import { adminRoutes } from "./api/admin-routes";
import { metricsRoute, monitoringRoutes } from "./api/monitoring-routes";
import { clientRoutes } from "./api/client-routes";
import { openAiRoutes } from "./api/openai-routes";
import { workerRoutes } from "./api/worker-routes";
import { openApiRoutes } from "./api/openapi";
import type { AppDeps } from "./api/deps";
import { uiRoutes } from "./ui/routes";
import { enforceAccess } from "./api/authorize";
import { RateLimiter } from "./api/rate-limits";
import { keyRoutes } from "./api/key-routes";
import { logRoutes } from "./api/log-routes";
import { jobTimelineRoutes } from "./api/job-timeline-routes";

/** How long an idle keep-alive socket stays open at least: longer than clients keep theirs (below). */
const IDLE_KEEP_ALIVE_MS = 65_000;

/** The control plane's HTTP surface: one fastify instance, each API a plugin; who may call what is one table. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log,
    // Workers long-poll all day: a line per request would bury the events worth reading. Errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // /runsync takes up to 20 MB; each route sets its own lower limit where RunPod has one.
    bodyLimit: 20 * 1024 * 1024,
    // An idle keep-alive socket outlives the client's own idle limit (aiohttp, runpod-python's: 15 s), so a client
    // never reuses one the server has closed. runpod-python runs a plain handler on its event loop, which then never
    // sees the close: after a 10 s job its result went out on a dead socket and was lost ("Server disconnected",
    // found on a real pod with a 2 s long-poll). And longer than a long-poll, which holds requests for longPollMs.
    keepAliveTimeout: Math.max(deps.config.longPollMs + 5_000, IDLE_KEEP_ALIVE_MS),
    return503OnClosing: false,
    // Its secure context is replaced when the files change (server/tls.ts), so the pair here is only the first.
    ...(deps.tls && { https: deps.tls }),
  });
  installErrorHandler(app);
  // Before any route: each route registered after it must have its rule (server/api/route-access.ts).
  enforceAccess(app, { keys: deps.keys, apiKeys: deps.apiKeys, resources: deps.resources, rateLimiter: new RateLimiter(), now: Date.now });
  catchUpWithOtherControlPlanes(app, deps.resources);
  app.get("/healthz", async () => ({ ok: true }));
  app.get("/readyz", async (_request, reply) =>
    deps.draining() ? reply.code(503).send({ ready: false, reason: "draining: shutting down, its clients go to another control plane" }) : { ready: true },
  );
  // A keep-alive connection would bring a client back to a replica that is going away.
  app.addHook("onSend", async (_request, reply) => {
    if (deps.draining()) reply.header("connection", "close");
  });
  app.register(openApiRoutes);
  app.register(clientRoutes, { prefix: "/v2", ...deps });
  app.register(openAiRoutes, { prefix: "/v2", ...deps });
  app.register(workerRoutes, { prefix: "/v2", ...deps });
  app.register(adminRoutes, { prefix: "/admin", ...deps });
  app.register(monitoringRoutes, { prefix: "/admin", ...deps });
  app.register(keyRoutes, { prefix: "/admin", ...deps });
  app.register(logRoutes, { prefix: "/admin", ...deps });
  app.register(jobTimelineRoutes, { prefix: "/admin", ...deps });
  app.register(metricsRoute, deps);
  // The page's files sit in ui/ beside this module: server/ui in a checkout, /opt/berth/ui in the image.
  app.register(uiRoutes, { dir: path.join(__dirname, "ui") });
  return app;
}
