import { z } from "zod";
import { jobStatusSchema } from "../jobs/model";
import { workerStateSchema, workerTypeSchema } from "../policy/worker-model";
import { isKnownGpuTypeOrPool, resolveGpuTypeIds, suggestGpuId } from "./gpu-types";

/**
 * The admin resources as the admin API takes them: Template, Endpoint, NetworkVolume. Field names and
 * defaults are RunPod's (REST API and IaC providers); every object is strict so that a typo is an error,
 * not a silently ignored field. These schemas are also the source of the OpenAPI document (server/api/openapi.ts).
 *
 * Secrets: a template or endpoint keeps its variables in `env` and lists the secret ones in `secretEnvKeys`.
 * The admin API never returns a secret value: reads show SECRET_MASK in its place, and a write that sends
 * SECRET_MASK back for a secret variable keeps the stored value (so GET, edit, PUT round-trips are safe).
 */

export const SECRET_MASK = "********";

/** Where serverless workers see a network volume, as on RunPod. */
export const DEFAULT_VOLUME_MOUNT_PATH = "/runpod-volume";

/** Variables the control plane gives every worker (server/worker-env.ts); a resource may not override them. */
const CONTROL_PLANE_ENV = new Set([
  "RUNPOD_WEBHOOK_GET_JOB",
  "RUNPOD_WEBHOOK_POST_OUTPUT",
  "RUNPOD_WEBHOOK_POST_STREAM",
  "RUNPOD_WEBHOOK_PING",
  "RUNPOD_AI_API_KEY",
  "RUNPOD_ENDPOINT_ID",
  "RUNPOD_PING_INTERVAL",
  "RUNPOD_POD_ID",
]);

// ---------------------------------------------------------------------------------------------------------
// Docker image references

export interface ImageReference {
  /** Registry host[:port], when the reference names one. */
  domain?: string;
  /** The repository path, e.g. `library/ubuntu`, `runpod/worker-v1-vllm`. */
  path: string;
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const MAX_NAME_LENGTH = 255;

/**
 * Parses `[domain/]path[:tag][@digest]` by the grammar of Docker's distribution/reference, answering why a
 * reference is malformed in words a user can act on. A first component is a registry when it has a `.` or a
 * `:` or is `localhost`, as Docker decides it.
 */
export function parseImageReference(ref: string): { ok: true; reference: ImageReference } | { ok: false; reason: string } {
  const fail = (reason: string) => ({ ok: false as const, reason });
  if (ref === "") return fail("is empty");
  if (/\s/.test(ref)) return fail("must not contain whitespace");

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return fail(`digest "${digest}" must be algorithm:hex, e.g. sha256:<64 hex digits>`);
    if (digest.startsWith("sha256:") && digest.length !== "sha256:".length + 64) return fail("a sha256 digest has 64 hex digits");
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag === "") return fail("has an empty tag after ':'");
    if (!TAG.test(tag)) return fail(`tag "${tag}" must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`);
  }

  if (rest === "") return fail("has no repository name");
  if (rest.length > MAX_NAME_LENGTH) return fail(`repository name is longer than ${MAX_NAME_LENGTH} characters`);
  const components = rest.split("/");
  let domain: string | undefined;
  const first = components[0]!;
  if (components.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    domain = components.shift();
    if (!DOMAIN.test(first)) return fail(`registry "${first}" is not a valid host[:port]`);
  }
  for (const component of components) {
    if (component === "") return fail("has an empty path component (a leading, trailing or doubled '/')");
    if (/[A-Z]/.test(component)) return fail(`repository name must be lowercase ("${component}")`);
    if (!PATH_COMPONENT.test(component)) {
      return fail(`path component "${component}" must be lowercase letters and digits, separated by '.', '_', '__' or '-'`);
    }
  }
  return { ok: true, reference: { domain, path: components.join("/"), tag, digest } };
}

export const imageNameSchema = z
  .string()
  .min(1, "must not be empty")
  .superRefine((value, ctx) => {
    const parsed = parseImageReference(value);
    if (!parsed.ok) ctx.addIssue({ code: "custom", message: `image reference ${parsed.reason}` });
  })
  .describe("Docker image reference: [registry[:port]/]repository[:tag][@sha256:digest], e.g. runpod/worker-v1-vllm:v2.7.0");

// ---------------------------------------------------------------------------------------------------------
// Environment variables, with secrets

const envNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be letters, digits and '_', not starting with a digit")
  .refine((name) => !CONTROL_PLANE_ENV.has(name), "is set by the control plane for every worker");

/** `env` and `secretEnvKeys`, shared by templates and endpoints. */
const envFields = {
  env: z
    .record(envNameSchema, z.string().max(32 * 1024))
    .default({})
    .describe(`environment variables for the workers; values of the keys in secretEnvKeys are returned as "${SECRET_MASK}"`),
  secretEnvKeys: z
    .array(envNameSchema)
    .default([])
    .describe(
      `keys of env whose values are secret: never returned by the API (shown as "${SECRET_MASK}"), never logged; ` +
        "each must name a key of env, once (else 400)",
    ),
};

/** Every secretEnvKeys entry names a variable of env, once. */
function checkSecretEnvKeys(spec: { env: Record<string, string>; secretEnvKeys: string[] }, ctx: z.RefinementCtx): void {
  spec.secretEnvKeys.forEach((key, i) => {
    if (!(key in spec.env)) ctx.addIssue({ code: "custom", path: ["secretEnvKeys", i], message: `names no variable in env ("${key}")` });
    else if (spec.secretEnvKeys.indexOf(key) !== i) ctx.addIssue({ code: "custom", path: ["secretEnvKeys", i], message: `repeats "${key}"` });
  });
}

/** The env with every secret value replaced by SECRET_MASK: what reads return. */
export function maskSecrets<S extends { env: Record<string, string>; secretEnvKeys: string[] }>(spec: S): S {
  const secret = new Set(spec.secretEnvKeys);
  return { ...spec, env: Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, secret.has(k) ? SECRET_MASK : v])) };
}

/**
 * For a write that echoes what a read returned: env values equal to SECRET_MASK for variables that were
 * secret become the stored values again. Works on the raw body, before validation; anything that is not a
 * plain env object is left for the schema to refuse.
 */
export function restoreMaskedSecrets(body: unknown, stored: { env: Record<string, string>; secretEnvKeys: string[] }): unknown {
  if (!isPlainObject(body) || !isPlainObject(body.env)) return body;
  const env = Object.entries(body.env).map(([key, value]) =>
    value === SECRET_MASK && stored.secretEnvKeys.includes(key) && key in stored.env ? [key, stored.env[key]] : [key, value],
  );
  return { ...body, env: Object.fromEntries(env) };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------------------
// Template

const PORT = /^([0-9]{1,5})\/(http|tcp|udp)$/;

/** The fields, without cross-field rules: the base for the OpenAPI document's patch schemas. */
export const templateFields = z
  .object({
    name: z.string().min(1).max(191).describe("display name"),
    imageName: imageNameSchema,
    startCommand: z
      .array(z.string())
      .optional()
      .describe("command and arguments that replace the image's CMD (RunPod's dockerArgs / dockerStartCmd); absent: the image's own"),
    ...envFields,
    containerDiskInGb: z.number().int().min(1).max(4096).default(50).describe("GB of writable container disk per worker; RunPod's default 50"),
    volumeMountPath: z
      .string()
      .regex(/^\/\S*$/, "must be an absolute path")
      .default(DEFAULT_VOLUME_MOUNT_PATH)
      .describe("where the endpoint's network volume is mounted in workers"),
    ports: z
      .array(
        z.string().refine((p) => {
          const m = PORT.exec(p);
          return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
        }, "must be PORT/http, PORT/tcp or PORT/udp with PORT 1..65535"),
      )
      .default([])
      .describe('ports the workers expose, e.g. "8888/http"; serverless workers need none'),
    memoryInGb: z.number().int().min(1).max(4096).optional().describe("memory limit per worker in GB; absent: no limit"),
    readme: z.string().max(64 * 1024).optional().describe("free text shown with the template"),
  })
  .strict()
  .describe("A template: what a worker container runs");

export const templateSpecSchema = templateFields.superRefine(checkSecretEnvKeys);
export type TemplateSpec = z.output<typeof templateSpecSchema>;

// ---------------------------------------------------------------------------------------------------------
// Endpoint

const SECOND_MS = 1000;
const DAY_MS = 24 * 60 * 60 * SECOND_MS;

const gpuTypeIdSchema = z.string().superRefine((entry, ctx) => {
  if (isKnownGpuTypeOrPool(entry)) return;
  const hint = suggestGpuId(entry);
  ctx.addIssue({
    code: "custom",
    message: `unknown GPU type or pool id "${entry}"${hint ? `; did you mean "${hint}"?` : "; GET /admin/gpu-types lists them"}`,
  });
});

const rateLimitSchema = z
  .object({
    requestsPer10s: z.number().int().min(1).max(1_000_000).optional().describe("requests per 10 s per API key; absent: RunPod's default"),
    concurrent: z.number().int().min(1).max(100_000).optional().describe("requests in progress at once per API key; absent: RunPod's default"),
  })
  .strict();

/** Per-endpoint overrides of the client API's rate limits (server/api/rate-limits.ts has RunPod's defaults). */
export const rateLimitsSchema = z
  .object({
    run: rateLimitSchema.optional().describe("/run and /retry"),
    sync: rateLimitSchema.optional().describe("/runsync, /status, /status-sync and /stream"),
    cancel: rateLimitSchema.optional().describe("/cancel"),
    purgeQueue: rateLimitSchema.optional().describe("/purge-queue"),
  })
  .strict()
  .describe("the client API's rate limits per API key for this endpoint; absent groups and fields keep RunPod's defaults");
export type RateLimitOverrides = z.output<typeof rateLimitsSchema>;

export const endpointFields = z
  .object({
    name: z.string().min(1).max(191).describe("display name"),
    templateId: z.string().min(1).max(64).describe("id of the template the workers run; must exist"),
    gpuTypeIds: z
      .array(gpuTypeIdSchema)
      .default([])
      .describe(
        "GPU types in priority order: RunPod type ids (\"NVIDIA GeForce RTX 4090\") or pool ids (ADA_24, AMPERE_80, ...); " +
          "a leading '-' excludes a type or pool; empty: any GPU type",
      ),
    gpuCount: z.number().int().min(1).max(8).default(1).describe("GPUs per worker"),
    workersMin: z.number().int().min(0).max(1000).default(0).describe("active workers, always running; at most workersMax (else 400)"),
    workersMax: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(3)
      .describe("the most workers at once; 0 disables the endpoint; at least workersMin (else 400)"),
    idleTimeout: z.number().int().min(1).max(3600).default(5).describe("seconds a flex worker stays idle before it is stopped"),
    scalerType: z
      .enum(["QUEUE_DELAY", "REQUEST_COUNT"])
      .default("QUEUE_DELAY")
      .describe("QUEUE_DELAY: scale up when a job waits longer than scalerValue s; REQUEST_COUNT: workers = ceil((inQueue + inProgress) / scalerValue)"),
    scalerValue: z.number().int().min(1).max(1000).default(4).describe("seconds of queue delay, or requests per worker, per scalerType"),
    executionTimeoutMs: z
      .number()
      .int()
      .min(5 * SECOND_MS)
      .max(7 * DAY_MS)
      .default(600_000)
      .describe("ms a job may run before it ends TIMED_OUT, unless the job's policy says otherwise"),
    flashboot: z.boolean().default(true).describe("keep stopped workers' containers for fast restarts"),
    networkVolumeId: z.string().min(1).max(64).optional().describe("id of a network volume mounted in every worker; must exist"),
    dataCenterIds: z
      .array(z.string().min(1).max(64))
      .min(1)
      .optional()
      .describe("data centres the workers may run in; absent: any. Must include the network volume's data centre"),
    rateLimits: rateLimitsSchema.optional(),
    ...envFields,
  })
  .strict()
  .describe("An endpoint: a queue and its autoscaled workers");

export const endpointSpecSchema = endpointFields.superRefine((spec, ctx) => {
  if (spec.workersMin > spec.workersMax) {
    ctx.addIssue({ code: "custom", path: ["workersMin"], message: `must not exceed workersMax (${spec.workersMin} > ${spec.workersMax})` });
  }
  if (spec.gpuTypeIds.every(isKnownGpuTypeOrPool) && resolveGpuTypeIds(spec.gpuTypeIds).length === 0) {
    ctx.addIssue({ code: "custom", path: ["gpuTypeIds"], message: "leaves no GPU type: every type it names is excluded" });
  }
  checkSecretEnvKeys(spec, ctx);
});
export type EndpointSpec = z.output<typeof endpointSpecSchema>;

// ---------------------------------------------------------------------------------------------------------
// Network volume

export const networkVolumeFields = z
  .object({
    name: z.string().min(1).max(191).describe("display name"),
    size: z.number().int().min(1).max(4000).describe("GB; may only grow: an update below the volume's current size is refused (400)"),
    dataCenterId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 letters, digits, '.', '_' or '-'")
      .describe("the data centre the volume lives in; immutable"),
  })
  .strict()
  .describe("A network volume, mounted in an endpoint's workers");

export const networkVolumeSpecSchema = networkVolumeFields;
export type NetworkVolumeSpec = z.output<typeof networkVolumeSpecSchema>;

// ---------------------------------------------------------------------------------------------------------
// Replies

const timestamps = {
  createdAt: z.string().describe("ISO 8601"),
  updatedAt: z.string().describe("ISO 8601"),
};

const endpointRefSchema = z.object({ id: z.string(), name: z.string(), revision: z.number().int() });

export const templateViewSchema = templateFields
  .extend({
    id: z.string(),
    usedBy: z.array(endpointRefSchema).describe("endpoints that run this template"),
    ...timestamps,
  })
  .describe("A template; secret env values are masked");

export const templateUpdateReplySchema = templateViewSchema
  .extend({
    rolledOut: z
      .array(endpointRefSchema)
      .describe("endpoints that got a new revision from this update (empty when only name or readme changed)"),
  })
  .describe("The updated template, and the endpoints whose workers are being replaced");

export const endpointViewSchema = endpointFields
  .extend({
    id: z.string(),
    revision: z.number().int().describe("increments each time what the workers run changes; starts at 1"),
    resolvedGpuTypeIds: z.array(z.string()).describe("gpuTypeIds with pools expanded and exclusions applied, in priority order"),
    clientBaseUrl: z.string().describe("the base URL for RunPod clients: {clientBaseUrl}/{id}/run"),
    ...timestamps,
  })
  .describe("An endpoint; secret env values are masked");

export const networkVolumeViewSchema = networkVolumeFields
  .extend({
    id: z.string(),
    usedBy: z.array(endpointRefSchema).describe("endpoints that mount this volume"),
    ...timestamps,
  })
  .describe("A network volume");

export const endpointRevisionViewSchema = z
  .object({
    revision: z.number().int(),
    createdAt: z.string().describe("ISO 8601"),
    endpoint: endpointFields.describe("the endpoint spec when this revision was made; secret values masked"),
    template: templateFields.describe("the template spec when this revision was made; secret values masked"),
  })
  .describe("What the workers of one revision run");

export const workerEnvReplySchema = z
  .object({ env: z.record(z.string(), z.string()) })
  .describe("The RUNPOD_* environment a RunPod-compatible worker needs to serve the endpoint; contains the endpoint's worker key");

export const gpuCatalogSchema = z
  .object({
    types: z.array(
      z.object({
        id: z.string().describe("RunPod GPU type id"),
        smiName: z.string().describe("the name nvidia-smi reports"),
        kubernetesProduct: z.string().describe("the nvidia.com/gpu.product node label"),
        memoryGb: z.number(),
        pool: z.string().optional(),
      }),
    ),
    pools: z.record(z.string(), z.array(z.string())).describe("pool id -> type ids, in the order they are tried"),
  })
  .describe("The GPU types and pools endpoints may name");

// ---------------------------------------------------------------------------------------------------------
// Runtime workers


export const workerViewSchema = z
  .object({
    id: z.string().describe("the worker's id, also its RUNPOD_POD_ID"),
    type: workerTypeSchema.describe("active: workersMin, always on; flex: follows demand; extra: frozen standby"),
    state: workerStateSchema,
    revision: z.number().int().describe("the endpoint revision it runs"),
    gpus: z.object({
      ids: z.array(z.string()).describe("the devices it holds"),
      typeId: z.string().optional(),
      simulated: z.boolean().describe("true when the devices are a simulated inventory's, not hardware"),
    }),
    frozen: z.boolean().describe("a standby kept paused until it is needed"),
    draining: z.boolean().describe("takes no new jobs; stops once its current ones finish"),
    reason: z.string().optional().describe("why it is Unhealthy or draining; after a restart, its last failure until it has stayed up a minute"),
    restarts: z.number().int().describe("restarts since its failures began"),
    startedAt: z.string().optional().describe("ISO 8601"),
    jobsInProgress: z.number().int(),
    node: z.string().optional().describe("on Kubernetes: the node its pod runs on"),
  })
  .describe("One worker the control plane runs on its runtime");

export const endpointWorkersViewSchema = z
  .object({
    endpointId: z.string(),
    revision: z.number().int().describe("the endpoint's current revision"),
    runtime: z
      .object({ kind: z.string(), location: z.string(), gpus: z.string().describe("the GPU inventory, e.g. 4 x NVIDIA L4 (simulated)") })
      .nullable()
      .describe("null when the control plane runs no runtime (--runtime none)"),
    workers: z.array(workerViewSchema),
    throttled: z
      .object({ count: z.number().int(), reason: z.string().optional() })
      .describe("workers wanted that no GPU or memory is free for: the endpoint's Throttled workers"),
    rollout: z
      .object({
        revision: z.number().int(),
        state: z.enum(["done", "rolling", "halted"]),
        outdated: z.number().int().describe("workers of older revisions still serving or draining"),
        batchSize: z.number().int().describe("outdated workers replaced at a time: 10% of workersMax, at least 1"),
        reason: z.string().optional().describe("why a halted rollout cannot go on"),
      })
      .describe("the rolling update to the current revision"),
  })
  .describe("An endpoint's workers on the runtime, with its throttled count and rollout");


// ---------------------------------------------------------------------------------------------------------
// Monitoring: the workers view (page, SSE, CLI) and usage

export const jobSummarySchema = z
  .object({
    id: z.string(),
    status: jobStatusSchema,
    workerId: z.string().optional(),
    createdAt: z.string().describe("ISO 8601"),
    delayMs: z.number().int().optional().describe("from queued to taken by a worker (RunPod's delayTime)"),
    executionMs: z.number().int().optional().describe("from taken to ended (RunPod's executionTime)"),
    finishedAt: z.string().optional().describe("ISO 8601"),
  })
  .describe("A job without its input or output");

export const resourceUseSchema = z
  .object({
    cpuPercent: z.number().optional().describe("of one core; 200 is two cores busy"),
    memoryBytes: z.number().int().optional(),
    memoryLimitBytes: z.number().int().optional(),
    gpuPercent: z.number().optional().describe("mean utilization of its GPUs, where the host reports it (nvidia-smi)"),
    note: z.string().optional().describe("why a figure is missing, e.g. a simulated GPU or a cluster without a metrics API"),
  })
  .describe("A worker's latest measured resource use");

export const workerDetailSchema = workerViewSchema
  .extend({
    uptimeSeconds: z.number().int().optional(),
    currentJobs: z.array(z.string()).describe("ids of the jobs it has in progress"),
    resources: resourceUseSchema,
    recentJobs: z.array(jobSummarySchema).describe("its latest jobs, newest first, while the store retains them"),
  })
  .describe("A worker with what it is doing and has done");

const queueNowSchema = z.object({ queued: z.number().int(), inProgress: z.number().int() });

const durationPercentilesSchema = z
  .object({ p50: z.number().int(), p95: z.number().int() })
  .nullable()
  .describe("ms, over the jobs that ended in the interval before the sample; null when none did");

export const historySampleSchema = queueNowSchema
  .extend({
    t: z.number().int().describe("ms since the epoch"),
    workers: z.record(z.string(), z.number().int()).describe("workers by state (Idle, Running, Initializing...)"),
    jobsEnded: z.number().int().describe("jobs that ended in the interval before the sample"),
    delayMs: durationPercentilesSchema,
    executionMs: durationPercentilesSchema,
  })
  .describe("One sample of an endpoint");

export const historyEventSchema = z
  .object({
    t: z.number().int().describe("ms since the epoch"),
    kind: z.enum(["scale", "rollout"]),
    text: z.string().describe('what happened: "2 → 4 workers", "rollout to revision 3 started"'),
  })
  .describe("A change the charts mark");

export const endpointHistorySchema = z
  .object({
    endpointId: z.string(),
    sampleMs: z.number().int().describe("the interval between samples"),
    windowMs: z.number().int().describe("how far back samples are kept"),
    samples: z.array(historySampleSchema).describe("oldest first"),
    events: z.array(historyEventSchema).describe("oldest first"),
  })
  .describe("An endpoint's last hour, as this control plane sampled it: what the workers view charts");

export const lastErrorSchema = z
  .object({
    at: z.string().describe("ISO 8601"),
    message: z.string(),
    jobId: z.string().optional().describe("the failed job, when a job's error"),
    workerId: z.string().optional().describe("the worker, when a worker's own report of why it is unhealthy"),
  })
  .nullable()
  .describe("the latest failed job's error or unhealthy worker's reason this control plane saw; null when none");

export const endpointOverviewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    revision: z.number().int(),
    workersMin: z.number().int(),
    workersMax: z.number().int(),
    queue: queueNowSchema,
    lastError: lastErrorSchema,
    throttled: endpointWorkersViewSchema.shape.throttled,
    rollout: endpointWorkersViewSchema.shape.rollout,
    workers: z.array(workerDetailSchema),
  })
  .describe("One endpoint in the workers view");

export const overviewSchema = z
  .object({
    generatedAt: z.string().describe("ISO 8601"),
    runtime: endpointWorkersViewSchema.shape.runtime,
    endpoints: z.array(endpointOverviewSchema),
  })
  .describe("Every endpoint with its workers, queue and recent jobs: what the workers view shows");

export const recentJobsQuerySchema = z
  .object({ limit: z.coerce.number().int().min(1).max(1000).default(50).describe("how many, newest first") })
  .strict();

export const recentJobsSchema = z.object({ endpointId: z.string(), jobs: z.array(jobSummarySchema) }).describe("An endpoint's latest jobs");

const instant = z.string().transform((value, ctx) => {
  const ms = /^\d+$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) ctx.addIssue({ code: "custom", message: "must be an ISO 8601 time or ms since the epoch" });
  return ms;
});

export const usageQuerySchema = z
  .object({
    from: instant.describe("ISO 8601 or ms since the epoch; default 24 hours before `to`").optional(),
    to: instant.describe("ISO 8601 or ms since the epoch; default now").optional(),
    endpointId: z.string().min(1).max(64).optional().describe("one endpoint only"),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { message: "must be before `to`", path: ["from"] });

export const usageReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    lines: z.array(
      z.object({
        endpointId: z.string(),
        workerType: z.string(),
        gpuTypeId: z.string().optional(),
        seconds: z.number().describe("seconds its workers were running jobs; idle time is not billed"),
        gpuSeconds: z.number(),
        pricePerGpuSecond: z.number().optional(),
        cost: z.number().optional().describe("absent when no price is set for the GPU type"),
      }),
    ),
    total: z.object({ seconds: z.number(), gpuSeconds: z.number(), cost: z.number() }),
    unpriced: z.array(z.string()).describe("GPU types that ran without a price (--gpu-prices)"),
  })
  .describe("Usage over a time range, by endpoint, worker type and GPU type");
