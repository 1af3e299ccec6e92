import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { describeZodError } from "./errors";
import { isSecretField, SECRETS_KEY_REQUIRED, secretFromFile } from "./secret-settings";

const ms = (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback);

/** Everything `berth server` can be told, with its defaults. Each field has a flag and a BERTH_* variable. */
export const serverConfigSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65535).default(8910),
  dataDir: z.string().min(1).default(path.join(os.homedir(), ".local", "share", "berth")),
  /**
   * The production store: PostgreSQL 15 or newer, which several control planes can share. Absent: SQLite in the data
   * directory, the embedded default. Its password never appears in a log or an error.
   */
  databaseUrl: z
    .string()
    .refine((url) => /^postgres(ql)?:\/\/[^/]/.test(url) && URL.canParse(url), "must be a postgres:// or postgresql:// URL")
    .optional(),
  /** Keys for the client and admin APIs. None given: one is made on first start and kept in the data directory. */
  apiKeys: z.array(z.string().min(16, "API keys must be at least 16 characters")).default([]),
  /**
   * The key that secret env values are encrypted with in the store: 32 random bytes in base64, in a file apart from
   * the database. Default with SQLite: <dataDir>/secrets.key, made on first start; required with a database URL,
   * the same file on every control plane sharing the database (server/README.md, "Secrets").
   */
  secretsKeyFile: z.string().min(1).optional(),
  /** The URL workers and webhooks' callers use to reach this server; default http://host:port (https:// with TLS). */
  publicUrl: z.url().optional(),
  /**
   * TLS: the certificate (PEM, its chain after it) and its private key (PEM). Both or neither; with them the control
   * plane serves HTTPS only, and reloads both files when they change (server/tls.ts).
   */
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** How long a job-take or job-stop long-poll is held before answering 204. */
  longPollMs: ms(100, 20_000),
  /** The ping interval told to workers (RUNPOD_PING_INTERVAL). */
  pingIntervalMs: ms(1_000, 10_000),
  /** A worker not heard from for this long is lost, and its jobs go back to the queue. */
  workerLostAfterMs: ms(1_000, 45_000),
  /** How many times a job is handed to a worker before it fails for good. */
  maxAttempts: z.coerce.number().int().min(1).max(100).default(3),
  webhookRetryDelayMs: ms(10, 10_000),
  /** How long results stay readable after a job ends: RunPod keeps /run results 30 min, /runsync 1 min (5 with wait). */
  runRetentionMs: ms(1_000, 30 * 60_000),
  runsyncRetentionMs: ms(1_000, 60_000),
  runsyncWaitRetentionMs: ms(1_000, 5 * 60_000),
  /**
   * Control planes sharing a PostgreSQL database elect one to run the runtime and the sweeper: its claim lasts
   * leaseTtlMs and is renewed every leaseRenewMs, so a dead leader is replaced within their sum (4 s by default).
   */
  leaseTtlMs: ms(300, 3_000),
  leaseRenewMs: ms(100, 1_000),
  /**
   * At SIGTERM, how long the control plane goes on serving while /readyz answers 503, so a load balancer (or a
   * Service) stops sending it requests before its long-polls are handed back. Default 5 s with a database URL
   * (several replicas), 0 without: SQLite's one control plane has nobody to hand over to.
   */
  drainDelayMs: z.coerce.number().int().min(0).max(120_000).optional(),
  /** How often timeouts, expiries and lost workers are looked for. */
  sweepIntervalMs: ms(10, 1_000),
  /**
   * This host's GPUs, for a control plane that cannot run nvidia-smi itself (in a container, say):
   * "<device id>=<type>[;...]", e.g. "0=NVIDIA H100 80GB HBM3;1=NVIDIA H100 80GB HBM3". Absent: nvidia-smi is asked.
   * Checked against the GPU table at start-up (server/runtimes/docker/gpu-inventory.ts).
   */
  gpus: z.string().optional(),
  /**
   * A simulated GPU inventory for development on a host without the hardware: "<type>=<count>[;...]", e.g.
   * "NVIDIA GeForce RTX 4090=4". Shown as simulated everywhere; cannot be combined with `gpus`.
   */
  simulatedGpus: z.string().optional(),
  /**
   * What runs the endpoints' workers: "docker" (the engine at DOCKER_HOST, default its unix socket),
   * "kubernetes" (a cluster, one Deployment per endpoint: server/runtimes/kubernetes/README.md) or "none" (workers run elsewhere,
   * started by hand with `berth worker-env`). Docker by default: that is the product on one box.
   */
  runtime: z.enum(["docker", "kubernetes", "none"]).default("docker"),
  /** Kubernetes: the kubeconfig file; absent: KUBECONFIG, ~/.kube/config, or the pod's service account. */
  kubeconfig: z.string().min(1).optional(),
  /** Kubernetes: the namespace of the workers; absent: the control plane's own pod's, or the context's, or "default". */
  kubeNamespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label: 1-63 lowercase letters, digits or '-'")
    .optional(),
  /** Kubernetes: the storage class of network volumes' claims (ReadWriteMany, expandable); absent: the default. */
  kubeStorageClass: z.string().min(1).optional(),
  /**
   * This control plane's name on its runtime (the label on every container and volume it makes). Absent: a random
   * one, made on first start and kept in the data directory. Set it to find and clean up its workers from outside.
   */
  controlPlaneId: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "must be 1-63 lowercase letters, digits, '.', '_' or '-'").optional(),
  /** Docker network mode of worker containers; "host" lets them reach a control plane bound to 127.0.0.1. */
  dockerNetwork: z.string().min(1).default("host"),
  /**
   * Usage prices: "<GPU type or pool>=<price per GPU-second>[;...]" (server/usage/prices.ts). GPU types without a
   * price are metered but not priced.
   */
  gpuPrices: z.string().optional(),
  /** The discount active (always-on) workers get on those prices, as RunPod gives: 0.2 is 20% off. */
  activeWorkerDiscount: z.coerce.number().min(0).max(1).default(0),
  /** How often each endpoint is sampled for the workers view's charts (an hour is kept). */
  queueSampleMs: ms(100, 5_000),
  /** How often every endpoint's workers are reconciled; a new job also triggers a pass at once. */
  reconcileIntervalMs: ms(50, 1_000),
  /** Frozen standby workers kept per endpoint where capacity allows (RunPod's extra workers). */
  extraWorkers: z.coerce.number().int().min(0).max(100).default(2),
  /** Between SIGTERM and SIGKILL when a worker is stopped (it has no job by then: it was drained first). */
  stopGraceMs: ms(0, 10_000),
  /** The first restart delay of a failed worker; it doubles each time up to restartBackoffMaxMs. */
  restartBackoffMs: ms(10, 1_000),
  restartBackoffMaxMs: ms(10, 5 * 60_000),
  /**
   * Worker logs (server/README.md, "Worker logs"): the bytes each endpoint's lines may take in <dataDir>/logs, the
   * oldest dropped first, and how long a stopped worker's lines are kept.
   */
  logMaxBytesPerEndpoint: z.coerce.number().int().min(64 * 1024).default(16 * 1024 * 1024),
  logRetentionMs: ms(1_000, 24 * 60 * 60_000),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** Maps each field to its environment variable: dataDir -> BERTH_DATA_DIR. */
export function envName(field: string): string {
  return "BERTH_" + field.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
}

/** Builds the config from flags over environment over defaults; bad values name the flag or variable. */
export function loadServerConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const raw: Record<string, unknown> = {};
  for (const field of Object.keys(serverConfigSchema.shape)) {
    const fromEnv = env[envName(field)];
    if (fromEnv !== undefined && fromEnv !== "") raw[field] = field === "apiKeys" ? fromEnv.split(",") : fromEnv;
    if (flags[field] !== undefined) raw[field] = flags[field];
    const fromFile = isSecretField(field) ? secretFromFile(field, envName(field), flags, env) : undefined;
    if (fromFile !== undefined) raw[field] = fromFile;
  }
  const parsed = serverConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const { details } = describeZodError(parsed.error, "");
    const lines = (details as Array<{ field: string; rule: string }>).map(
      (d) => `--${d.field.split(".")[0]!.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} / ${envName(d.field.split(".")[0]!)}: ${d.rule}`,
    );
    throw new Error(`invalid server configuration:\n  ${lines.join("\n  ")}`);
  }
  // A renewal must fit inside the lease at least twice, or one slow renewal would cost the leader its lease.
  if (parsed.data.leaseRenewMs * 2 > parsed.data.leaseTtlMs) {
    throw new Error(
      `invalid server configuration:\n  ${envName("leaseRenewMs")}: must be at most half of ${envName("leaseTtlMs")} (${parsed.data.leaseTtlMs})`,
    );
  }
  // One without the other would serve plain HTTP where TLS was meant, or fail at the first handshake.
  if ((parsed.data.tlsCert === undefined) !== (parsed.data.tlsKey === undefined)) {
    throw new Error(
      `invalid server configuration:\n  --tls-cert / ${envName("tlsCert")} and --tls-key / ${envName("tlsKey")}: give both (a certificate and its key) or neither`,
    );
  }
  // A key made by each replica would not open the secrets the others wrote.
  if (parsed.data.databaseUrl !== undefined && parsed.data.secretsKeyFile === undefined) {
    throw new Error(`invalid server configuration:\n  ${SECRETS_KEY_REQUIRED}`);
  }
  return parsed.data;
}
