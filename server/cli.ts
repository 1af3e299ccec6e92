import crypto from "node:crypto";
import path from "node:path";
import type { AxiosResponse } from "axios";
import { Command, Option } from "commander";
import { callControlPlane, NoAnswerError } from "./control-plane-call";
import { bytes, duration, ms, table } from "./cli-output";
import { envName, loadServerConfig } from "./config";
import type { EndpointOverview, JobSummary } from "./monitoring/overview";
import { startControlPlane } from "./server";
import { copyStore } from "./store/copy-store";
import type { UsageReport } from "./usage/report";
import type { auditEntrySchema, keyViewSchema } from "./resources/key-schemas";
import type { z } from "zod";
import { timelineText } from "./job-timeline-output";
import { addDoctorCommand } from "./doctor/command";
import type { JobTimelineReply } from "./resources/job-timeline-schemas";
import { durationMs } from "./resources/durations";
import { buildControlPlaneImage, DEFAULT_BASE_IMAGE } from "./control-plane-image";
import { version } from "../package.json";

const program = new Command("berth").description("Serverless GPU endpoints on your own hardware").version(version);

const configOption = (flag: string, field: string, description: string) =>
  new Option(flag, `${description} (env ${envName(field)})`);

program
  .command("server")
  .description("run the control plane: job API, worker API, admin API")
  .addOption(configOption("--host <address>", "host", "address to listen on; default 127.0.0.1"))
  .addOption(configOption("--port <port>", "port", "port to listen on, 0 for any; default 8910"))
  .addOption(configOption("--data-dir <dir>", "dataDir", "where the SQLite store and keys live; default ~/.local/share/berth"))
  .addOption(configOption("--api-key <key...>", "apiKeys", "API keys for the client and admin APIs (env: comma-separated)"))
  .addOption(new Option("--api-key-file <file>", "a file of API keys, one per line, instead of --api-key (env BERTH_API_KEYS_FILE)"))
  .addOption(configOption("--public-url <url>", "publicUrl", "URL workers use to reach this server; default http://host:port (https:// with --tls-cert)"))
  .addOption(configOption("--tls-cert <file>", "tlsCert", "TLS certificate (PEM); with --tls-key, serves HTTPS only and reloads both when they change"))
  .addOption(configOption("--tls-key <file>", "tlsKey", "TLS private key (PEM) of --tls-cert"))
  .addOption(configOption("--log-level <level>", "logLevel", "pino log level; default info"))
  .addOption(configOption("--gpus <list>", "gpus", 'this host\'s GPUs when nvidia-smi cannot list them: "<device id>=<type>[;...]"'))
  .addOption(configOption("--simulated-gpus <list>", "simulatedGpus", 'simulated GPUs for development: "<type>=<count>[;...]"'))
  .addOption(configOption("--runtime <kind>", "runtime", "what runs workers: docker, kubernetes or none; default docker"))
  .addOption(configOption("--database-url <url>", "databaseUrl", "PostgreSQL 15+ to keep everything in (production, several replicas); default SQLite in the data directory"))
  .addOption(new Option("--database-url-file <file>", "a file holding the database URL, instead of --database-url (env BERTH_DATABASE_URL_FILE)"))
  .addOption(configOption("--secrets-key-file <file>", "secretsKeyFile", "key of secret env values at rest; default <data dir>/secrets.key, required with a database URL"))
  .addOption(configOption("--kubeconfig <file>", "kubeconfig", "kubernetes: kubeconfig file; default KUBECONFIG, ~/.kube/config or in-cluster"))
  .addOption(configOption("--kube-namespace <ns>", "kubeNamespace", "kubernetes: namespace of the workers; default the pod's or the context's"))
  .addOption(configOption("--kube-storage-class <name>", "kubeStorageClass", "kubernetes: storage class of network volume claims (RWX)"))
  .addOption(configOption("--docker-network <mode>", "dockerNetwork", "network mode of worker containers; default host"))
  .addOption(configOption("--extra-workers <n>", "extraWorkers", "frozen standby workers per endpoint; default 2"))
  .addOption(configOption("--queue-sample-ms <ms>", "queueSampleMs", "how often each endpoint is sampled for the workers view's charts; default 5000"))
  .addOption(configOption("--gpu-prices <list>", "gpuPrices", 'usage prices: "<GPU type or pool>=<price per GPU-second>[;...]"'))
  .addOption(configOption("--active-worker-discount <fraction>", "activeWorkerDiscount", "discount on active workers' usage, 0.2 = 20%; default 0"))
  .addOption(configOption("--control-plane-id <id>", "controlPlaneId", "its name on the runtime (labels its workers); default a random one kept in the data directory"))
  .addOption(configOption("--log-max-bytes-per-endpoint <n>", "logMaxBytesPerEndpoint", "bytes of worker logs kept per endpoint, oldest dropped first; default 16 MiB"))
  .addOption(configOption("--log-retention-ms <ms>", "logRetentionMs", "how long a stopped worker's logs are kept; default 24 h"))
  .action(async (flags: Record<string, unknown>) => {
    const config = loadServerConfig({ ...flags, apiKeys: flags.apiKey });
    const plane = await startControlPlane(config);
    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) return;
      closing = true;
      plane.app.log.info({ signal }, "shutting down");
      plane.close().then(
        () => process.exit(0),
        (err) => {
          plane.app.log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
  });

program
  .command("store")
  .description("the control plane's store")
  .command("copy")
  .description("copy an installation's SQLite store into an empty PostgreSQL database, checked by row counts")
  .requiredOption("--from <dir>", "the data directory of the installation (stop its control plane first)")
  .requiredOption("--to <url>", "postgres://... of an empty database (PostgreSQL 15 or newer)")
  .action(async (options: { from: string; to: string }) => {
    const report = await copyStore(options.from, options.to);
    process.stdout.write(
      `copied into ${report.to}:\n` +
        table(["TABLE", "ROWS"], Object.entries(report.rows).map(([name, n]) => [name, String(n)])) +
        `start the control plane with --database-url; the worker-key secret and runtime id are in the database now\n` +
        `secret env values were copied encrypted: start every control plane with --secrets-key-file ${path.join(options.from, "secrets.key")}\n`,
    );
  });

interface AdminOptions {
  url: string;
  apiKey?: string;
  caBundle?: string;
  json?: boolean;
}

/** The options every command that reads a control plane's admin API takes. */
function adminCommand(name: string, parent: Command = program): Command {
  return parent
    .command(name)
    .option("--url <url>", "control plane URL (env BERTH_URL)", process.env.BERTH_URL ?? "http://127.0.0.1:8910")
    .option("--api-key <key>", "API key (env BERTH_API_KEY)", process.env.BERTH_API_KEY)
    .option("--ca-bundle <file>", "PEM file of CAs to trust for an https:// control plane (env BERTH_CA_BUNDLE)", process.env.BERTH_CA_BUNDLE || undefined)
    .option("--json", "print the API's JSON instead of a table");
}

async function adminGet<T>(options: AdminOptions, path: string, params?: Record<string, string | undefined>): Promise<T> {
  return adminRequest<T>(options, "GET", path, { params });
}

/** One call of the admin API with the command's key (and CA bundle); a refusal becomes its message. */
async function adminRequest<T>(
  options: AdminOptions,
  method: "GET" | "POST" | "DELETE",
  path: string,
  request: { params?: Record<string, string | undefined>; body?: unknown } = {},
): Promise<T> {
  const res = await adminResponse(options, method, path, request);
  if (res.status >= 300) throw new Error(`${options.url}: HTTP ${res.status}: ${res.data?.message ?? JSON.stringify(res.data)}`);
  return res.data as T;
}

/** The admin API's answer whatever its status; `stream` hands its body over as it arrives. */
async function adminResponse(
  options: AdminOptions,
  method: "GET" | "POST" | "DELETE",
  path: string,
  request: { params?: Record<string, string | undefined>; body?: unknown; stream?: boolean },
): Promise<AxiosResponse> {
  if (!options.apiKey) throw new Error("an API key is needed: pass --api-key or set BERTH_API_KEY");
  const config = {
    method,
    headers: { Authorization: `Bearer ${options.apiKey}` },
    params: request.params,
    data: request.body,
    ...(request.stream && { responseType: "stream" as const }),
  };
  return callControlPlane(options, `/admin${path}`, config).catch((err: unknown) => {
    throw err instanceof NoAnswerError ? new Error(`${options.url}: ${err.message}`) : err;
  });
}

type KeyView = z.output<typeof keyViewSchema>;
type AuditEntryView = z.output<typeof auditEntrySchema>;

const describeScope = (key: KeyView) => (key.scope === "run" ? `run: ${key.endpointIds.join(",")}` : key.scope);

/** `--expires`: an ISO 8601 time, or a duration from now (90m, 12h, 30d); anything else goes as is, for the API to name. */
function expiryTime(text: string): string {
  const fromNow = durationMs(text);
  return fromNow === undefined ? text : new Date(Date.now() + fromNow).toISOString();
}

/** The top-level fields an admin write changed: what a reader of the log looks for first. */
function changedFields(before: unknown, after: unknown): string {
  if (before === null) return "created";
  if (after === null) return "deleted";
  const [b, a] = [before as Record<string, unknown>, after as Record<string, unknown>];
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => k !== "updatedAt" && JSON.stringify(b[k]) !== JSON.stringify(a[k]));
  return keys.join(",") || "-";
}

const print = (options: AdminOptions, data: unknown, text: () => string) =>
  process.stdout.write(options.json ? JSON.stringify(data, null, 2) + "\n" : text());

adminCommand("worker-env")
  .description("print the environment a RunPod-compatible worker needs to serve ENDPOINT from a control plane")
  .argument("<endpoint>", "endpoint id")
  .option("--worker-id <id>", "the worker's id (RUNPOD_POD_ID); default a new random one: run once per worker")
  .action(async (endpointId: string, options: AdminOptions & { workerId?: string }) => {
    const { env: base } = await adminGet<{ env: Record<string, string> }>(options, `/endpoints/${encodeURIComponent(endpointId)}/worker-env`);
    // runpod-python pings only when RUNPOD_POD_ID is set, so a worker is always given one.
    const env: Record<string, string> = { ...base, RUNPOD_POD_ID: options.workerId ?? `worker-${crypto.randomBytes(6).toString("hex")}` };
    const shellQuote = (value: string) => `'${value.replace(/'/g, "'\\''")}'`;
    print(options, env, () => Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(""));
  });

adminCommand("workers")
  .description("list ENDPOINT's workers: state, type, revision, GPUs, resource use, uptime, current job")
  .argument("<endpoint>", "endpoint id")
  .action(async (endpointId: string, options: AdminOptions) => {
    const view = await adminGet<EndpointOverview>(options, `/endpoints/${encodeURIComponent(endpointId)}/overview`);
    print(options, view, () => {
      const header = `${view.name} (${view.id}) revision ${view.revision}, rollout ${view.rollout.state}; queue ${view.queue.queued}, in progress ${view.queue.inProgress}` +
        (view.throttled.count > 0 ? `; ${view.throttled.count} throttled: ${view.throttled.reason ?? ""}` : "") + "\n";
      const rows = view.workers.map((w) => [
        w.id,
        w.state,
        w.type,
        String(w.revision),
        w.gpus.ids.length > 0 ? `${w.gpus.ids.join(",")}${w.gpus.simulated ? " (simulated)" : ""}` : (w.gpus.typeId ?? "-"),
        w.resources.cpuPercent === undefined ? "-" : `${w.resources.cpuPercent}%`,
        `${bytes(w.resources.memoryBytes)}${w.resources.memoryLimitBytes ? ` / ${bytes(w.resources.memoryLimitBytes)}` : ""}`,
        w.resources.gpuPercent === undefined ? "-" : `${Math.round(w.resources.gpuPercent)}%`,
        duration(w.uptimeSeconds),
        w.currentJobs.join(",") || "-",
        w.reason ?? "",
      ]);
      return header + table(["WORKER", "STATE", "TYPE", "REV", "GPUS", "CPU", "MEMORY", "GPU", "UPTIME", "JOB", "REASON"], rows);
    });
  });

adminCommand("jobs")
  .description("list ENDPOINT's latest jobs, newest first: status, worker, delay and execution time")
  .argument("<endpoint>", "endpoint id")
  .option("--limit <n>", "how many", "20")
  .action(async (endpointId: string, options: AdminOptions & { limit: string }) => {
    const reply = await adminGet<{ jobs: JobSummary[] }>(options, `/endpoints/${encodeURIComponent(endpointId)}/jobs`, { limit: options.limit });
    print(options, reply, () =>
      table(
        ["JOB", "STATUS", "WORKER", "CREATED", "DELAY", "EXECUTION"],
        reply.jobs.map((j) => [j.id, j.status, j.workerId ?? "-", j.createdAt, ms(j.delayMs), ms(j.executionMs)]),
      ),
    );
  });

adminCommand("logs")
  .description("ENDPOINT's workers' log lines, oldest first: TIME WORKER STREAM line (stderr marked); --follow waits for more")
  .argument("<endpoint>", "endpoint id")
  .option("--worker <id>", "one worker's lines only")
  .option("--job <id>", "the lines of the job's worker while it ran the job")
  .option("--since <when>", "from then on: a duration back from now (30s, 10m, 2h, 1d) or an ISO 8601 time")
  .option("--tail <n>", "the last N lines (of what the rest selects)")
  .option("--follow", "keep printing new lines; ends when the worker stops or the job ends")
  .action(async (endpointId: string, options: AdminOptions & { worker?: string; job?: string; since?: string; tail?: string; follow?: boolean }) => {
    const params = { worker: options.worker, job: options.job, since: options.since, tail: options.tail, follow: options.follow ? "true" : undefined };
    await printLogLines(options, await logStream(options, `/endpoints/${encodeURIComponent(endpointId)}/logs`, params));
  });

adminCommand("job")
  .description("a job's timeline: status, input and output sizes, error and traceback, attempts, progress, stream chunks, worker logs")
  .argument("<job>", "job id")
  .option("--endpoint <id>", "the job's endpoint; default found from the job id")
  .action(async (jobId: string, options: AdminOptions & { endpoint?: string }) => {
    const job = encodeURIComponent(jobId);
    const timeline = await adminGet<JobTimelineReply>(options, options.endpoint ? `/endpoints/${encodeURIComponent(options.endpoint)}/jobs/${job}` : `/jobs/${job}`);
    print(options, timeline, () => timelineText(timeline));
  });

adminCommand("usage")
  .description("running seconds and cost by endpoint, worker type and GPU type over a time range (idle time is free)")
  .option("--from <time>", "ISO 8601 or ms since the epoch; default 24 hours before --to")
  .option("--to <time>", "ISO 8601 or ms since the epoch; default now")
  .option("--endpoint <id>", "one endpoint only")
  .action(async (options: AdminOptions & { from?: string; to?: string; endpoint?: string }) => {
    const report = await adminGet<UsageReport>(options, "/usage", { from: options.from, to: options.to, endpointId: options.endpoint });
    print(options, report, () => {
      const money = (n: number | undefined) => (n === undefined ? "no price" : n.toFixed(4));
      const rows = report.lines.map((l) => [l.endpointId, l.workerType, l.gpuTypeId ?? "-", l.seconds.toFixed(1), l.gpuSeconds.toFixed(1), money(l.cost)]);
      rows.push(["total", "", "", report.total.seconds.toFixed(1), report.total.gpuSeconds.toFixed(1), money(report.total.cost)]);
      const note = report.unpriced.length > 0 ? `no price set (--gpu-prices) for: ${report.unpriced.join(", ")}\n` : "";
      return `${report.from} to ${report.to}\n` + table(["ENDPOINT", "TYPE", "GPU", "SECONDS", "GPU-SECONDS", "COST"], rows) + note;
    });
  });

program
  .command("image")
  .description("the control plane's container image")
  .command("build")
  .description("build the control plane's image on the local Docker engine (DOCKER_HOST) from this installed package")
  .option("--tag <tag>", "the image's name and tag", `berth/control-plane:${version}`)
  .option("--base <image>", "the Node 20 image to build FROM (the engine pulls it if it lacks it)", DEFAULT_BASE_IMAGE)
  .action(async (options: { tag: string; base: string }) => {
    const tag = await buildControlPlaneImage({
      tag: options.tag,
      baseImage: options.base,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(`${tag}\n`);
  });

const keys = program.command("keys").description("API keys: admin (everything), read (reads and /metrics), run (named endpoints' client API)");

adminCommand("create", keys)
  .description("make an API key and print it: it is shown this once, the control plane keeps only its hash")
  .requiredOption("--name <name>", "who or what holds it: ci, web-app, dashboard")
  .requiredOption("--scope <scope>", "admin, read or run")
  .option("--endpoint <id...>", "the endpoints a run key may call")
  .option("--expires <when>", "ISO 8601 time, or a duration from now: 90m, 12h, 30d")
  .action(async (options: AdminOptions & { name: string; scope: string; endpoint?: string[]; expires?: string }) => {
    const body = { name: options.name, scope: options.scope, endpointIds: options.endpoint, expiresAt: options.expires && expiryTime(options.expires) };
    const created = await adminRequest<KeyView & { key: string }>(options, "POST", "/keys", { body });
    if (options.json) {
      print(options, created, () => "");
      return;
    }
    process.stdout.write(`${created.key}\n`);
    process.stderr.write(`API key ${created.id} (${created.name}, ${describeScope(created)}${created.expiresAt ? `, expires ${created.expiresAt}` : ""}): shown once, keep it now\n`);
  });

adminCommand("list", keys)
  .description("list API keys: scope, status, expiry, last use (never a secret)")
  .action(async (options: AdminOptions) => {
    const list = await adminGet<KeyView[]>(options, "/keys");
    print(options, list, () =>
      table(
        ["ID", "NAME", "SCOPE", "STATUS", "CREATED", "EXPIRES", "LAST USED"],
        list.map((k) => [k.id, k.name, describeScope(k), k.status, k.createdAt, k.expiresAt ?? "never", k.lastUsedAt ?? "never"]),
      ),
    );
  });

adminCommand("revoke", keys)
  .description("revoke an API key: refused at once on this control plane, within a second on the others")
  .argument("<id>", "the key's id (its first part: bk_<id>_...)")
  .action(async (id: string, options: AdminOptions) => {
    await adminRequest(options, "DELETE", `/keys/${encodeURIComponent(id)}`);
    process.stdout.write(`revoked API key ${id}\n`);
  });

adminCommand("audit")
  .description("the audit log of admin writes, newest first: when, which key, what, and the fields it changed")
  .option("--limit <n>", "how many", "50")
  .option("--target <id>", "entries about this resource or key only")
  .action(async (options: AdminOptions & { limit: string; target?: string }) => {
    const { entries } = await adminGet<{ entries: AuditEntryView[] }>(options, "/audit", { limit: options.limit, targetId: options.target });
    print(options, { entries }, () =>
      table(
        ["SEQ", "AT", "KEY", "ACTION", "TARGET", "CHANGED"],
        entries.map((e) => [String(e.seq), e.at, `${e.keyName} (${e.keyId})`, e.action, `${e.targetKind} ${e.targetId ?? "-"}`, changedFields(e.before, e.after)]),
      ),
    );
  });

/** Tries made when a control plane that does not lead answers (logs_on_leader): a load balancer picks another. */
const LOG_TRIES = 10;

/** The logs route's NDJSON body, from the control plane that has the lines. */
async function logStream(options: AdminOptions, path: string, params: Record<string, string | undefined>): Promise<NodeJS.ReadableStream> {
  for (let attempt = 1; ; attempt++) {
    const res = await adminResponse(options, "GET", path, { params, stream: true });
    if (res.status < 300) return res.data as NodeJS.ReadableStream;
    const chunks: Buffer[] = [];
    for await (const chunk of res.data as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString("utf8");
    let error: { error?: string; message?: string } = {};
    try {
      error = JSON.parse(body);
    } catch {
      // not JSON: its text is the message
    }
    if (error.error === "logs_on_leader" && attempt < LOG_TRIES) {
      await new Promise((resolve) => setTimeout(resolve, Number(res.headers["retry-after"] ?? 1) * 1000));
      continue;
    }
    throw new Error(`${options.url}: HTTP ${res.status}: ${error.message ?? body}`);
  }
}

/** Each line as it comes: "TIME  WORKER  STREAM  line", stderr marked with a "!"; with --json the API's own lines. */
async function printLogLines(options: AdminOptions, body: NodeJS.ReadableStream): Promise<void> {
  let partial = "";
  const print = (raw: string) => {
    if (raw.trim() === "") return;
    if (options.json) return void process.stdout.write(raw + "\n");
    const { time, workerId, stream, line } = JSON.parse(raw) as { time: string; workerId: string; stream: string; line: string };
    // Milliseconds are enough to read; the API keeps the nanoseconds for ordering.
    process.stdout.write(`${time.slice(0, 23)}Z  ${workerId}  ${stream === "stderr" ? "stderr!" : stream.padEnd(7)}  ${line}\n`);
  };
  for await (const chunk of body) {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop()!;
    lines.forEach(print);
  }
  print(partial);
}

addDoctorCommand(program);

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`berth: ${err.message}\n`);
  process.exit(1);
});
