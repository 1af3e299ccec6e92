import type { FastifyInstance } from "fastify";
import { z, type ZodType } from "zod";
import { version } from "../../package.json";
import {
  endpointFields,
  endpointHistorySchema,
  endpointOverviewSchema,
  endpointRevisionViewSchema,
  endpointSpecSchema,
  endpointViewSchema,
  endpointWorkersViewSchema,
  gpuCatalogSchema,
  networkVolumeFields,
  networkVolumeSpecSchema,
  networkVolumeViewSchema,
  overviewSchema,
  recentJobsQuerySchema,
  recentJobsSchema,
  templateFields,
  templateSpecSchema,
  templateUpdateReplySchema,
  templateViewSchema,
  usageQuerySchema,
  usageReportSchema,
  workerEnvReplySchema,
} from "../resources/schemas";
import {
  errorReplySchema,
  healthReplySchema,
  jobStatusBodySchema,
  purgeReplySchema,
  runReplySchema,
  runRequestSchema,
  streamReplySchema,
  waitQuerySchema,
} from "./client-schemas";
import { chatCompletionBodySchema, completionBodySchema, embeddingBodySchema, openAiErrorSchema, openAiWaitQuerySchema } from "./openai-schemas";
import { batchQuerySchema, jobDoneBodySchema, jobsToStopSchema, pingQuerySchema, streamBodySchema, takeQuerySchema, workerJobSchema } from "./worker-schemas";
import { auditLogSchema, auditQuerySchema, createdKeySchema, createKeyBodySchema, keyViewSchema } from "../resources/key-schemas";
import { ruleFor } from "./route-access";
import { jobTimelineReplySchema } from "../resources/job-timeline-schemas";
import { logLineSchema, logsQuerySchema } from "../resources/log-schemas";

type Json = Record<string, unknown>;

/** GET /openapi.json, without auth: the admin and client APIs' schemas, and a listing of the worker API. */
export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  // Built once, at start: a schema that cannot be expressed fails the server's start (and its tests), not a request.
  const document = buildOpenApiDocument();
  app.get("/openapi.json", async () => document);
}

/**
 * Request bodies are described as zod parses them (`io: "input"`: fields with defaults are optional), replies
 * as the API writes them (`io: "output"`). PATCH bodies are the resource's fields, all optional and without
 * defaults: a merge patch leaves out what it does not change.
 */
const REQUEST_SCHEMAS: Record<string, ZodType> = {
  TemplateInput: templateSpecSchema,
  TemplatePatch: templateFields.partial(),
  EndpointInput: endpointSpecSchema,
  EndpointPatch: endpointFields.partial(),
  NetworkVolumeInput: networkVolumeSpecSchema,
  NetworkVolumePatch: networkVolumeFields.partial(),
  RunRequest: runRequestSchema,
  ChatCompletionRequest: chatCompletionBodySchema,
  CompletionRequest: completionBodySchema,
  EmbeddingRequest: embeddingBodySchema,
  KeyInput: createKeyBodySchema,
  JobDone: jobDoneBodySchema,
  StreamChunk: streamBodySchema,
};

const REPLY_SCHEMAS: Record<string, ZodType> = {
  Template: templateViewSchema,
  TemplateUpdate: templateUpdateReplySchema,
  Endpoint: endpointViewSchema,
  EndpointRevision: endpointRevisionViewSchema,
  NetworkVolume: networkVolumeViewSchema,
  WorkerEnv: workerEnvReplySchema,
  EndpointWorkers: endpointWorkersViewSchema,
  GpuCatalog: gpuCatalogSchema,
  Overview: overviewSchema,
  EndpointOverview: endpointOverviewSchema,
  EndpointHistory: endpointHistorySchema,
  RecentJobs: recentJobsSchema,
  JobTimeline: jobTimelineReplySchema,
  UsageReport: usageReportSchema,
  JobStatus: jobStatusBodySchema,
  RunReply: runReplySchema,
  StreamReply: streamReplySchema,
  PurgeReply: purgeReplySchema,
  HealthReply: healthReplySchema,
  WorkerJob: workerJobSchema,
  JobsToStop: jobsToStopSchema,
  ApiKey: keyViewSchema,
  CreatedApiKey: createdKeySchema,
  AuditLog: auditLogSchema,
  Error: errorReplySchema,
  OpenAiError: openAiErrorSchema,
  LogLine: logLineSchema,
};

const PATCH_SCHEMAS = new Set(["TemplatePatch", "EndpointPatch", "NetworkVolumePatch"]);

export function buildOpenApiDocument(): Json {
  return {
    openapi: "3.1.0",
    info: {
      title: "Berth control plane",
      version,
      description:
        "RunPod-compatible serverless endpoints on your own hardware. The client API (/v2) is RunPod's: point a RunPod " +
        "client at {server}/v2. The admin API (/admin) manages templates, endpoints and network volumes; secret env " +
        'values are never returned, reads show "********" in their place. Errors are JSON: {error, message, details?}, ' +
        "with `message` naming each bad field (`body.workersMin: ...`). A method a path does not list here answers 405 " +
        "with an `Allow` header naming those it has.",
    },
    tags: [
      { name: "admin", description: "Templates, endpoints and network volumes (what the Pulumi provider calls)" },
      { name: "client", description: "RunPod's serverless client API" },
      { name: "openai", description: "RunPod's OpenAI-compatible route: each request a job whose input is {openai_route, openai_input}, as worker-vllm reads it; errors in OpenAI's shape" },
      { name: "monitoring", description: "The workers view's data, server-sent events, recent jobs, usage and Prometheus metrics" },
      { name: "worker", description: "RunPod's worker protocol, as runpod-python speaks it; authorized by the endpoint's worker key" },
    ],
    security: [{ apiKey: [] }],
    paths: withAccess({ ...adminPaths(), ...keyPaths(), ...monitoringPaths(), ...clientPaths(), ...openAiPaths(), ...workerPaths(), ...publicPaths() }),
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "An API key: `Authorization: Bearer <key>` (a bare key is accepted too, as RunPod does). Worker keys are refused.",
        },
        workerKey: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description: "The endpoint's worker key, bare (RUNPOD_AI_API_KEY from GET /admin/endpoints/{id}/worker-env)",
        },
      },
      parameters: {
        id: pathParameter("id", "resource id"),
        endpointId: pathParameter("endpointId", "endpoint id"),
        jobId: pathParameter("jobId", "job id"),
        workerId: pathParameter("workerId", "the worker's id (RUNPOD_POD_ID)"),
      },
      responses: {
        BadRequest: errorResponse("invalid request: `message` and `details` name each field and its rule"),
        Unauthorized: errorResponse("missing, unknown, revoked or expired key"),
        Forbidden: errorResponse("the key lacks the scope (`details.needed`) or the endpoint"),
        RateLimited: errorResponse("over the key's rate limit for this endpoint; Retry-After says when to send again"),
        NotFound: errorResponse("no such resource"),
        Conflict: errorResponse("the resource is in use; `details.endpoints` names the users"),
      },
    },
  };
}

function componentSchemas(): Record<string, Json> {
  const generate = (schemas: Record<string, ZodType>, io: "input" | "output") => {
    const registry = z.registry<{ id: string }>();
    for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
    return z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` }).schemas as Record<string, Json>;
  };
  const all = { ...generate(REQUEST_SCHEMAS, "input"), ...generate(REPLY_SCHEMAS, "output") };
  return Object.fromEntries(
    Object.entries(all).map(([id, { $schema, $id, ...schema }]) => [id, PATCH_SCHEMAS.has(id) ? withoutDefaults(schema) : schema]),
  );
}

/** A patch leaves a field as it is when absent: the defaults that apply at creation do not apply to it. */
function withoutDefaults(schema: Json): Json {
  const properties = Object.entries((schema.properties ?? {}) as Record<string, Json>).map(([key, { default: _, ...property }]) => [
    key,
    property,
  ]);
  return { ...schema, properties: Object.fromEntries(properties) };
}

// --- paths ------------------------------------------------------------------------------------------------

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json) => ({ content: { "application/json": { schema } } });
const ok = (description: string, schema?: Json) => ({ description, ...(schema ? json(schema) : {}) });
const errorResponse = (description: string) => ({ description, ...json(ref("Error")) });
const parameter = (name: string) => ({ $ref: `#/components/parameters/${name}` });
const pathParameter = (name: string, description: string) => ({ name, in: "path", required: true, description, schema: { type: "string" } });
const failures = (...responses: Array<"BadRequest" | "NotFound" | "Conflict">) => ({
  "401": { $ref: "#/components/responses/Unauthorized" },
  "403": { $ref: "#/components/responses/Forbidden" },
  ...Object.fromEntries(
    responses.map((r) => [{ BadRequest: "400", NotFound: "404", Conflict: "409" }[r], { $ref: `#/components/responses/${r}` }]),
  ),
});

/** Each operation says who may call it (`x-berth-access`) and whether it is rate-limited, from the table the server enforces. */
function withAccess(paths: Json): Json {
  return Object.fromEntries(
    Object.entries(paths).map(([path, item]) => {
      const route = path.replace(/\{(\w+)\}/g, ":$1");
      const operations = Object.entries(item as Json).map(([method, op]) => {
        const rule = ruleFor(method.toUpperCase(), route);
        if (!rule || typeof op !== "object") return [method, op];
        const own = (op as Json).responses as Json;
        // The OpenAI route documents its own 429, in OpenAI's shape.
        const responses = { ...own, ...(rule.rate && !own["429"] ? { "429": { $ref: "#/components/responses/RateLimited" } } : {}) };
        return [method, { ...(op as Json), responses, "x-berth-access": rule.access }];
      });
      return [path, Object.fromEntries(operations)];
    }),
  );
}

function keyPaths(): Json {
  const tags = ["admin"];
  return {
    "/admin/keys": {
      get: { tags, summary: "list API keys (never their secrets)", responses: { "200": ok("every key", { type: "array", items: ref("ApiKey") }), ...failures() } },
      post: {
        tags,
        summary: "make an API key: its secret is in this reply only",
        requestBody: { required: true, ...json(ref("KeyInput")) },
        responses: { "201": ok("the key, with its secret", ref("CreatedApiKey")), ...failures("BadRequest") },
      },
    },
    "/admin/keys/{id}": {
      parameters: [parameter("id")],
      get: { tags, summary: "read an API key", responses: { "200": ok("the key", ref("ApiKey")), ...failures("NotFound") } },
      delete: { tags, summary: "revoke an API key: refused at once here, within 1 s on other control planes", responses: { "204": ok("revoked"), ...failures("NotFound") } },
    },
    "/admin/audit": {
      get: {
        tags,
        summary: "the audit log of admin writes: key, action, target, before and after (secrets masked)",
        parameters: queryParameters(auditQuerySchema),
        responses: { "200": ok("entries", ref("AuditLog")), ...failures("BadRequest") },
      },
    },
  };
}

function adminPaths(): Json {
  const crud = (path: string, what: string, name: string, updateReply = name) => ({
    [`/admin/${path}`]: {
      get: { tags: ["admin"], summary: `list ${what}s`, responses: { "200": ok(`every ${what}`, { type: "array", items: ref(name) }), ...failures() } },
      post: {
        tags: ["admin"],
        summary: `create a ${what}`,
        requestBody: { required: true, ...json(ref(`${name}Input`)) },
        responses: { "200": ok(`the new ${what}`, ref(name)), ...failures("BadRequest") },
      },
    },
    [`/admin/${path}/{id}`]: {
      parameters: [parameter("id")],
      get: { tags: ["admin"], summary: `read a ${what}`, responses: { "200": ok(`the ${what}`, ref(name)), ...failures("NotFound") } },
      put: {
        tags: ["admin"],
        summary: `replace a ${what}'s spec; omitted fields take their defaults`,
        requestBody: { required: true, ...json(ref(`${name}Input`)) },
        responses: { "200": ok(`the updated ${what}`, ref(updateReply)), ...failures("BadRequest", "NotFound") },
      },
      patch: {
        tags: ["admin"],
        summary: `change some of a ${what}'s fields (JSON merge patch, RFC 7396: null removes a field, env merges key by key)`,
        requestBody: {
          required: true,
          content: { "application/merge-patch+json": { schema: ref(`${name}Patch`) }, "application/json": { schema: ref(`${name}Patch`) } },
        },
        responses: { "200": ok(`the updated ${what}`, ref(updateReply)), ...failures("BadRequest", "NotFound") },
      },
      delete: {
        tags: ["admin"],
        summary: `delete a ${what}; refused while in use`,
        responses: { "204": ok("deleted"), ...failures("NotFound", "Conflict") },
      },
    },
  });
  return {
    ...crud("templates", "template", "Template", "TemplateUpdate"),
    ...crud("endpoints", "endpoint", "Endpoint"),
    ...crud("network-volumes", "network volume", "NetworkVolume"),
    "/admin/endpoints/{id}/revisions": {
      parameters: [parameter("id")],
      get: {
        tags: ["admin"],
        summary: "every revision of the endpoint, oldest first",
        responses: { "200": ok("the revisions", { type: "array", items: ref("EndpointRevision") }), ...failures("NotFound") },
      },
    },
    "/admin/endpoints/{id}/worker-env": {
      parameters: [parameter("id")],
      get: {
        tags: ["admin"],
        summary: "the environment a RunPod-compatible worker needs to serve the endpoint (includes its worker key)",
        responses: { "200": ok("the environment", ref("WorkerEnv")), ...failures("NotFound") },
      },
    },
    "/admin/endpoints/{id}/workers": {
      parameters: [parameter("id")],
      get: {
        tags: ["admin"],
        summary: "the endpoint's workers on the runtime (state, type, revision, GPUs), throttled count and rollout",
        responses: { "200": ok("the workers", ref("EndpointWorkers")), ...failures("NotFound") },
      },
    },
    "/admin/gpu-types": {
      get: {
        tags: ["admin"],
        summary: "the GPU type ids and pool ids endpoints may name in gpuTypeIds",
        responses: { "200": ok("the catalogue", ref("GpuCatalog")), ...failures() },
      },
    },
  };
}

function clientPaths(): Json {
  const waitParameters = queryParameters(waitQuerySchema);
  const op = (summary: string, reply: string, extra: Json = {}) => ({
    tags: ["client"],
    summary,
    ...extra,
    responses: { "200": ok(summary, ref(reply)), ...failures("BadRequest", "NotFound") },
  });
  const runBody = { requestBody: { required: true, ...json(ref("RunRequest")) } };
  const endpoint = [parameter("endpointId")];
  const job = [parameter("endpointId"), parameter("jobId")];
  return {
    "/v2/{endpointId}/run": { parameters: endpoint, post: op("queue a job", "RunReply", runBody) },
    "/v2/{endpointId}/runsync": {
      parameters: endpoint,
      post: op("run a job and wait for it (90 s, or `wait` ms); a job not done in time answers its current status", "JobStatus", {
        ...runBody,
        parameters: waitParameters,
      }),
    },
    "/v2/{endpointId}/status/{jobId}": { parameters: job, get: op("a job's status, and its output once done", "JobStatus") },
    "/v2/{endpointId}/status-sync/{jobId}": {
      parameters: job,
      get: op("a job's status, waiting up to `wait` ms for it to end", "JobStatus", { parameters: waitParameters }),
    },
    "/v2/{endpointId}/stream/{jobId}": { parameters: job, get: op("the stream chunks not returned yet", "StreamReply") },
    "/v2/{endpointId}/cancel/{jobId}": { parameters: job, post: op("cancel a job", "RunReply") },
    "/v2/{endpointId}/retry/{jobId}": { parameters: job, post: op("queue a FAILED or TIMED_OUT job again", "RunReply") },
    "/v2/{endpointId}/purge-queue": { parameters: endpoint, post: op("remove every queued job", "PurgeReply") },
    "/v2/{endpointId}/health": { parameters: endpoint, get: op("job and worker counts", "HealthReply") },
  };
}

/** RunPod's OpenAI-compatible route (server/api/openai-routes.ts): the worker's answer is the body, errors are OpenAI's. */
function openAiPaths(): Json {
  const error = (description: string) => ({ description, ...json(ref("OpenAiError")) });
  const failures = {
    "400": error("a bad body (`param` names the field), or the worker refused the request (its own status)"),
    "401": error("missing, unknown, revoked or expired key"),
    "403": error("the key lacks the endpoint"),
    "404": error("no such endpoint"),
    "429": error("over the key's rate limit for this endpoint (/runsync's group); Retry-After says when to send again"),
    "502": error("the worker failed (its error message), or the job was cancelled"),
    "504": error("no answer within `wait` ms (the job is cancelled), or the job ran past its execution timeout"),
  };
  const parameters = [parameter("endpointId"), ...queryParameters(openAiWaitQuerySchema)];
  const answer = (summary: string, body?: string, streams = false) => ({
    tags: ["openai"],
    summary,
    ...(body ? { requestBody: { required: true, ...json(ref(body)) } } : {}),
    responses: {
      "200": {
        description: streams
          ? "the worker's response object; with `stream: true`, text/event-stream: the job's stream chunks as they come, ending with `data: [DONE]`"
          : "the worker's response object",
        content: {
          "application/json": { schema: { type: "object" } },
          ...(streams ? { "text/event-stream": { schema: { type: "string" } } } : {}),
        },
      },
      ...failures,
    },
  });
  return {
    "/v2/{endpointId}/openai/v1/chat/completions": {
      parameters,
      post: answer("a chat completion: a job with openai_route /v1/chat/completions", "ChatCompletionRequest", true),
    },
    "/v2/{endpointId}/openai/v1/completions": {
      parameters,
      post: answer("a completion: a job with openai_route /v1/completions", "CompletionRequest", true),
    },
    "/v2/{endpointId}/openai/v1/embeddings": { parameters, post: answer("embeddings: a job with openai_route /v1/embeddings", "EmbeddingRequest") },
    "/v2/{endpointId}/openai/v1/models": { parameters, get: answer("the models the worker serves: a job with openai_route /v1/models") },
  };
}

/**
 * The worker protocol is RunPod's and its bodies are the SDK's; listed here so the whole surface is in one place.
 * Every route acts only on the workers and jobs of the endpoint in its path, whose worker key it must carry.
 */
function workerPaths(): Json {
  const unauthorized = { "401": { $ref: "#/components/responses/Unauthorized" } };
  const badRequest = { "400": errorResponse("bad parameters, or a body that is empty, not JSON, or not a JSON object") };
  const notFound = (what: string) => ({ "404": errorResponse(`no such ${what} on this endpoint`) });
  const none = (what: string) => ({ "204": { description: `no ${what} came within the long-poll (20 s by default)` } });
  const op = (method: "get" | "post", summary: string, params: string[], responses: Json, extra: Json = {}) => ({
    parameters: params.map(parameter),
    [method]: { tags: ["worker"], summary, security: [{ workerKey: [] }], ...extra, responses: { ...responses, ...unauthorized } },
  });
  const body = (name: string) => ({ requestBody: { required: true, ...json(ref(name)) } });
  const worker = ["endpointId", "workerId"];
  const workerJob = ["endpointId", "workerId", "jobId"];
  return {
    "/v2/{endpointId}/job-take/{workerId}": op(
      "get",
      "long-poll for a job",
      worker,
      { "200": ok("a job, now this worker's", ref("WorkerJob")), ...none("job"), ...badRequest, ...notFound("endpoint") },
      { parameters: queryParameters(takeQuerySchema) },
    ),
    "/v2/{endpointId}/job-take-batch/{workerId}": op(
      "get",
      "long-poll for up to batch_size jobs",
      worker,
      { "200": ok("the jobs, oldest first", { type: "array", items: ref("WorkerJob") }), ...none("job"), ...badRequest, ...notFound("endpoint") },
      { parameters: queryParameters(batchQuerySchema) },
    ),
    "/v2/{endpointId}/job-done/{workerId}/{jobId}": op(
      "post",
      "a job's result, error or progress update (?isStream=true|false); a repeat, or a job no longer this worker's, changes nothing",
      workerJob,
      { "200": ok("recorded (or ignored)", { type: "object" }), ...badRequest, ...notFound("job") },
      body("JobDone"),
    ),
    "/v2/{endpointId}/job-stream/{workerId}/{jobId}": op(
      "post",
      "one stream chunk of a job still this worker's",
      workerJob,
      {
        "200": ok("recorded (or ignored)", { type: "object" }),
        ...badRequest,
        ...notFound("job"),
        "413": errorResponse("a chunk over 1 MB, RunPod's limit"),
      },
      body("StreamChunk"),
    ),
    "/v2/{endpointId}/ping/{workerId}": op(
      "get",
      "heartbeat; status=unhealthy reports a failed fitness check",
      worker,
      { "200": ok("recorded", { type: "object" }), ...badRequest, ...notFound("endpoint") },
      { parameters: queryParameters(pingQuerySchema) },
    ),
    "/v2/{endpointId}/job-stop/{workerId}": op("get", "long-poll for jobs this worker must stop (cancelled, timed out, expired)", worker, {
      "200": ok("the jobs to stop, each told once", ref("JobsToStop")),
      ...none("stop"),
      ...badRequest,
      ...notFound("endpoint"),
    }),
  };
}

function monitoringPaths(): Json {
  const tags = ["monitoring"];
  return {
    "/admin/overview": {
      get: { tags, summary: "every endpoint with its workers, queue and recent jobs (the workers view)", responses: { "200": ok("now", ref("Overview")), ...failures() } },
    },
    "/admin/events": {
      get: {
        tags,
        summary: "the overview as server-sent events (`event: overview`), at once and then every intervalMs",
        parameters: [{ name: "intervalMs", in: "query", schema: { type: "integer", minimum: 200, maximum: 60000, default: 1000 } }],
        responses: { "200": { description: "text/event-stream; each event's data is an Overview" }, ...failures("BadRequest") },
      },
    },
    "/admin/endpoints/{id}/overview": {
      parameters: [parameter("id")],
      get: { tags, summary: "one endpoint of the overview: its workers, queue and recent jobs", responses: { "200": ok("now", ref("EndpointOverview")), ...failures("NotFound") } },
    },
    "/admin/endpoints/{id}/history": {
      parameters: [parameter("id")],
      get: {
        tags,
        summary: "an endpoint's last hour, sampled: queue, workers by state, delay and execution p50/p95, scale and rollout events",
        responses: { "200": ok("its history", ref("EndpointHistory")), ...failures("NotFound") },
      },
    },
    "/admin/endpoints/{id}/jobs": {
      parameters: [parameter("id")],
      get: {
        tags,
        summary: "an endpoint's latest jobs, newest first, while the store retains them",
        parameters: queryParameters(recentJobsQuerySchema),
        responses: { "200": ok("its jobs", ref("RecentJobs")), ...failures("BadRequest", "NotFound") },
      },
    },
    "/admin/endpoints/{id}/jobs/{jobId}": {
      parameters: [parameter("id"), parameter("jobId")],
      get: {
        tags,
        summary: "a job's timeline: input and output (cut to 4 KB, with sizes), error and traceback, each run on a worker and why it ended, progress updates, stream chunks and the workers' log lines, with times",
        responses: { "200": ok("its timeline", ref("JobTimeline")), ...failures("BadRequest", "NotFound") },
      },
    },
    "/admin/jobs/{jobId}": {
      parameters: [parameter("jobId")],
      get: {
        tags,
        summary: "a job's timeline, found by the job's id alone (whichever endpoint it is on)",
        responses: { "200": ok("its timeline", ref("JobTimeline")), ...failures("BadRequest", "NotFound") },
      },
    },
    "/admin/endpoints/{id}/logs": {
      parameters: [parameter("id")],
      get: {
        tags,
        summary:
          "the endpoint's workers' log lines, oldest first, as NDJSON (one LogLine per line); with follow, new lines as they come, until the worker stops, the job ends or the client goes",
        description:
          "Kept by the control plane that runs the workers (the leader), in files beside its store, for logRetentionMs after a worker stops and up to logMaxBytesPerEndpoint per endpoint. Another control plane answers 503 logs_on_leader with Retry-After.",
        parameters: queryParameters(logsQuerySchema),
        responses: {
          "200": { description: "application/x-ndjson", content: { "application/x-ndjson": { schema: ref("LogLine") } } },
          "503": errorResponse("logs_on_leader: this control plane does not run the workers now; ask again"),
          ...failures("BadRequest", "NotFound"),
        },
      },
    },
    "/admin/usage": {
      get: {
        tags,
        summary: "running seconds and cost by endpoint, worker type and GPU type over a time range",
        parameters: queryParameters(usageQuerySchema),
        responses: { "200": ok("the report", ref("UsageReport")), ...failures("BadRequest", "NotFound") },
      },
    },
    "/metrics": { get: { tags, summary: "Prometheus metrics (text exposition format)", responses: { "200": ok("metrics"), ...failures() } } },
  };
}

function publicPaths(): Json {
  return {
    "/openapi.json": { get: { summary: "this document", security: [], responses: { "200": ok("OpenAPI 3.1") } } },
    "/healthz": { get: { summary: "the control plane is up", security: [], responses: { "200": ok("up") } } },
    "/readyz": {
      get: {
        summary: "the control plane takes requests: 503 from SIGTERM on, while it drains (load balancers and readiness probes)",
        security: [],
        responses: { "200": ok("ready"), "503": ok("draining") },
      },
    },
  };
}

/** A query schema's fields as OpenAPI query parameters. */
function queryParameters(schema: ZodType): Json[] {
  const { properties = {}, required = [] } = z.toJSONSchema(schema, { io: "input" }) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(properties).map(([name, { description, ...property }]) => ({
    name,
    in: "query",
    required: required.includes(name),
    ...(description ? { description } : {}),
    schema: property,
  }));
}
