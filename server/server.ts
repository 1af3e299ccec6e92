import crypto from "node:crypto";
import type https from "node:https";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp } from "./app";
import type { ServerConfig } from "./config";
import { JobService } from "./jobs/service";
import { Keys } from "./keys";
import { ApiKeys } from "./api-keys";
import { Monitoring } from "./monitoring/monitoring";
import { parseGpuPrices } from "./usage/prices";
import { startRuntime } from "./runtimes/start-runtime";
import type { WorkerRuntime } from "./runtimes/worker-runtime";
import { workerEnv } from "./worker-env";
import { JobSweeper } from "./jobs/sweeper";
import { LeaderElection } from "./cluster/leader-election";
import { soleLeader } from "./cluster/fence";
import { WebhookSender } from "./jobs/webhooks";
import { openStore } from "./store/open-store";
import { ResourceStore } from "./store/resources";
import { SharedRuntime } from "./runtimes/shared-runtime";
import { readTlsPair, TlsReloader, type TlsFiles } from "./tls";
import { LogStore } from "./logs/log-store";

export interface RunningControlPlane {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** How much history the workers view's charts show. */
const QUEUE_HISTORY_MS = 60 * 60_000;

/** Opens the store (SQLite in the data directory, or PostgreSQL), starts the sweeper and listens; `close` undoes it in reverse. */
export async function startControlPlane(config: ServerConfig): Promise<RunningControlPlane> {
  const started = performance.now();
  const log = pino({ level: config.logLevel });
  // Before anything opens: a certificate that does not load stops the start-up, naming the file.
  const tlsFiles: TlsFiles | undefined = config.tlsCert && config.tlsKey ? { certFile: config.tlsCert, keyFile: config.tlsKey } : undefined;
  const tls = tlsFiles && readTlsPair(tlsFiles);
  const store = await openStore(config, log);
  const { keys, generatedApiKeyFile } = await Keys.load(store.settings, config.dataDir, config.apiKeys);
  const resources = await ResourceStore.open(store.resources, {
    signals: store.signals,
    failed: (err) => log.error({ err }, "could not reload the resources another control plane changed"),
  });
  const jobs = await JobService.open(store.jobs, config, {
    signals: store.signals,
    failed: (err) => log.error({ err }, "could not share which workers are held with the other control planes"),
  });
  // Only the leader runs the runtime; the others answer from what it publishes (none to publish with SQLite).
  const sharedRuntime =
    store.runtimeViews && config.runtime !== "none"
      ? await SharedRuntime.open(store.runtimeViews, resources, jobs, {
          signals: store.signals,
          failed: (err) => log.error({ err }, "could not publish or read the leading control plane's runtime views"),
        })
      : undefined;
  // Files beside the database, never in it: a chatty worker must not slow the job store (server/README.md, "Worker logs").
  const logs = await LogStore.open({
    dir: path.join(config.dataDir, "logs"),
    maxBytesPerEndpoint: config.logMaxBytesPerEndpoint,
    retentionMs: config.logRetentionMs,
    log,
  });
  logs.start();
  let url = "";
  let led: WorkerRuntime | undefined;
  let leading = false;
  const runtime = () => led ?? sharedRuntime?.follower;
  const publicUrl = () => config.publicUrl ?? url;
  const monitoring = new Monitoring(
    { usage: store.usage, jobs, resources, runtime },
    {
      queueSampleMs: config.queueSampleMs,
      queueHistoryMs: QUEUE_HISTORY_MS,
      prices: { perGpuSecond: parseGpuPrices(config.gpuPrices), activeDiscount: config.activeWorkerDiscount },
    },
  );
  let draining = false;
  const app = buildApp({
    config,
    log,
    keys,
    apiKeys: new ApiKeys(store.apiKeys),
    audit: store.audit,
    jobs,
    resources,
    publicUrl,
    runtime,
    monitoring,
    draining: () => draining,
    logs,
    leading: () => leading,
    tls,
  });
  const tlsReloader =
    tlsFiles && tls && new TlsReloader(tlsFiles, tls, (pair) => (app.server as unknown as https.Server).setSecureContext(pair), app.log);
  const sweeper = new JobSweeper(jobs, new WebhookSender(store.jobs.jobs, config.webhookRetryDelayMs, app.log), config, app.log);

  // Every control plane serves every API; only the one holding the lease runs the runtime and the sweeper. With
  // SQLite there is one control plane, which always holds it.
  const shared = store.signals.shared;
  const holder = `${os.hostname()}/${process.pid}/${crypto.randomBytes(3).toString("hex")}`;
  const leader = new LeaderElection(
    store.lease,
    holder,
    { leaseTtlMs: config.leaseTtlMs, renewEveryMs: config.leaseRenewMs },
    {
      lead: async () => {
        sweeper.start();
        leading = true;
        led = await startRuntime({
          config,
          fleetWorkerRows: store.fleetWorkers,
          settings: store.settings,
          resources,
          jobs,
          workerEnv: (endpointId, workerId) => workerEnv(config, publicUrl(), keys, endpointId, workerId),
          coldStart: (endpointId, seconds) => monitoring.metrics.coldStart(endpointId, seconds),
          reconciled: (seconds) => monitoring.metrics.reconciled(seconds),
          clusterRequest: (verb, resource) => monitoring.metrics.clusterRequest(verb, resource),
          // Alone on its store (SQLite), a control plane leads for good: a stalled event loop must not stop it acting.
          fence: shared ? () => leader.holdsLease() : soleLeader,
          logs,
          log: app.log,
        });
        if (led) sharedRuntime?.lead(led);
        if (shared) app.log.info({ holder }, "leading: this control plane runs the runtime and the sweeper");
      },
      stepDown: async () => {
        const stopping = led;
        led = undefined;
        leading = false;
        await sharedRuntime?.stepDown();
        await stopping?.stop();
        await sweeper.stop();
        if (shared) app.log.warn({ holder }, "no longer leading: the runtime and the sweeper stopped here");
      },
    },
    (err) => app.log.error({ err, holder }, "leader election"),
  );

  const address = await app.listen({ host: config.host, port: config.port });
  url = address;
  tlsReloader?.start();
  monitoring.start(app.log);
  try {
    await leader.start();
  } catch (err) {
    await leader.stop();
    tlsReloader?.stop();
    monitoring.stop();
    await app.close();
    await logs.stop();
    await store.close();
    throw err;
  }
  app.log.info(
    {
      url,
      publicUrl: publicUrl(),
      dataDir: config.dataDir,
      store: { kind: store.kind, location: store.location },
      startupMs: Math.round(performance.now() - started),
    },
    "control plane listening",
  );
  if (generatedApiKeyFile) app.log.info({ file: generatedApiKeyFile }, "no API key configured: using the one in this file");

  return {
    app,
    url,
    async close() {
      // Not ready first, serving all the while, so the load balancer sends new requests elsewhere; then the lease
      // goes (another replica leads at once) and every open long-poll answers, its client calling again elsewhere.
      draining = true;
      const drainDelayMs = config.drainDelayMs ?? (config.databaseUrl ? 5_000 : 0);
      if (drainDelayMs > 0) {
        app.log.info({ drainDelayMs }, "draining: /readyz answers 503 while requests still arrive");
        await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
      }
      await leader.stop();
      tlsReloader?.stop();
      monitoring.stop();
      jobs.close();
      await app.close();
      await logs.stop();
      await store.close();
    },
  };
}
