import type { FastifyBaseLogger } from "fastify";
import type { ServerConfig } from "../config";
import type { JobService } from "../jobs/service";
import type { Keys } from "../keys";
import type { ApiKeys } from "../api-keys";
import type { AuditRows } from "../audit";
import type { Monitoring } from "../monitoring/monitoring";
import type { WorkerRuntime } from "../runtimes/worker-runtime";
import type { ResourceStore } from "../store/resources";
import type { TlsPair } from "../tls";
import type { LogStore } from "../logs/log-store";

/** What the HTTP routes work with; server.ts builds it, app.ts hands it to each API plugin. */
export interface AppDeps {
  config: ServerConfig;
  /** The control plane's structured log (pino), shared with what starts before the HTTP server. */
  log: FastifyBaseLogger;
  keys: Keys;
  /** API keys with scopes, made through the admin API. */
  apiKeys: ApiKeys;
  /** The audit log of admin writes. */
  audit: AuditRows;
  jobs: JobService;
  resources: ResourceStore;
  /** The URL workers use to reach this server. */
  publicUrl: () => string;
  /** What runs the endpoints' workers (Docker or Kubernetes); undefined with `--runtime none` (or until it is up). */
  runtime: () => WorkerRuntime | undefined;
  monitoring: Monitoring;
  /** True from SIGTERM on: /readyz answers 503 and every reply closes its connection, so clients go elsewhere. */
  draining: () => boolean;
  /** Workers' log lines, as this control plane collected them while it ran the runtime. */
  logs: LogStore;
  /** Whether this control plane runs the runtime now (always, alone on SQLite): only it collects logs. */
  leading: () => boolean;
  /** The certificate and key to serve HTTPS with (only); absent: plain HTTP. */
  tls?: TlsPair;
}
