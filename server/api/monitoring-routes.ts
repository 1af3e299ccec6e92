import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppDeps } from "./deps";
import { jobSummary } from "../monitoring/overview";
import { recentJobsQuerySchema, usageQuerySchema, type endpointHistorySchema, type recentJobsSchema } from "../resources/schemas";
import { notFound } from "./errors";
import { parse } from "./http";

const idParamsSchema = z.object({ id: z.string().min(1).max(64) });
const eventsQuerySchema = z.object({ intervalMs: z.coerce.number().int().min(200).max(60_000).default(1000) }).strict();
const DAY_MS = 24 * 60 * 60_000;

/**
 * What operators watch, under /admin with the API key: the workers view's data as one document (overview), the
 * same as server-sent events, an endpoint's recent jobs, and usage over a time range.
 */
export async function monitoringRoutes(app: FastifyInstance, opts: AppDeps): Promise<void> {
  const { monitoring, resources, jobs } = opts;

  app.get("/overview", async () => monitoring.overview());

  // An event stream rather than polling: the page holds one connection and gets a new picture every interval.
  // Each event is the whole overview: small (a few KB per endpoint), and a client that missed one loses nothing.
  // A hijacked response is fastify's no more: a shutdown would wait for the page to go away. They end first.
  const streams = new Set<ServerResponse>();
  app.addHook("preClose", async () => {
    for (const stream of streams) stream.end();
  });
  app.get("/events", (request, reply) => {
    const { intervalMs } = parse(eventsQuerySchema, request.query, "query");
    reply.hijack();
    reply.raw.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const send = () =>
      void monitoring.overview().then(
        (overview) => reply.raw.write(`event: overview\ndata: ${JSON.stringify(overview)}\n\n`),
        (err: Error) => request.log.error({ err }, "could not build the overview for the event stream"),
      );
    send();
    const timer = setInterval(send, intervalMs);
    streams.add(reply.raw);
    reply.raw.on("close", () => {
      clearInterval(timer);
      streams.delete(reply.raw);
    });
  });

  app.get("/endpoints/:id/overview", async (request) => {
    const { id } = parse(idParamsSchema, request.params, "params");
    const endpoint = await monitoring.endpoint(id);
    if (!endpoint) throw notFound(`endpoint ${id}`);
    return endpoint;
  });

  app.get("/endpoints/:id/jobs", async (request): Promise<z.output<typeof recentJobsSchema>> => {
    const { id } = parse(idParamsSchema, request.params, "params");
    const { limit } = parse(recentJobsQuerySchema, request.query, "query");
    if (!resources.endpointExists(id)) throw notFound(`endpoint ${id}`);
    return { endpointId: id, jobs: (await jobs.recentJobs(id, limit)).map(jobSummary) };
  });

  app.get("/endpoints/:id/history", async (request): Promise<z.output<typeof endpointHistorySchema>> => {
    const { id } = parse(idParamsSchema, request.params, "params");
    const history = monitoring.endpointHistory(id);
    if (!history) throw notFound(`endpoint ${id}`);
    return history;
  });

  app.get("/usage", async (request) => {
    const query = parse(usageQuerySchema, request.query, "query");
    const to = query.to ?? Date.now();
    const from = query.from ?? to - DAY_MS;
    if (query.endpointId !== undefined && !resources.endpointExists(query.endpointId)) throw notFound(`endpoint ${query.endpointId}`);
    return monitoring.usageReport(from, to, query.endpointId);
  });
}

/** Prometheus metrics at /metrics. Behind the API key too: endpoint ids are names worth keeping to operators. */
export async function metricsRoute(app: FastifyInstance, opts: AppDeps): Promise<void> {
  const { registry } = opts.monitoring.metrics;
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", registry.contentType);
    return registry.metrics();
  });
}
