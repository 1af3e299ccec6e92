import path from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app";
import type { ServerConfig } from "./config";
import { JobService } from "./jobs/service";
import { Keys } from "./keys";
import { Monitoring } from "./monitoring/monitoring";
import { parseGpuPrices } from "./usage/prices";
import { startRuntime } from "./runtimes/start-runtime";
import type { WorkerRuntime } from "./runtimes/worker-runtime";
import { workerEnv } from "./worker-env";
import { JobSweeper } from "./jobs/sweeper";
import { WebhookSender } from "./jobs/webhooks";
import { BerthDatabase } from "./store/database";
import { sqliteJobStorage } from "./store/jobs";
import { SqliteResourceRows } from "./store/resource-rows";
import { ResourceStore } from "./store/resources";

export interface RunningControlPlane {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** How much queue history the workers view's chart shows. */
const QUEUE_HISTORY_MS = 15 * 60_000;

/** Opens the store in the data directory, starts the scheduler and listens; `close` undoes it in reverse. */
export async function startControlPlane(config: ServerConfig): Promise<RunningControlPlane> {
  const started = performance.now();
  const database = new BerthDatabase(path.join(config.dataDir, "berth.db"));
  const { keys, generatedApiKeyFile } = Keys.load(config.dataDir, config.apiKeys);
  const resources = await ResourceStore.open(new SqliteResourceRows(database));
  const jobStorage = sqliteJobStorage(database);
  const jobs = await JobService.open(jobStorage, config);
  let url = "";
  let runtime: WorkerRuntime | undefined;
  const publicUrl = () => config.publicUrl ?? url;
  const monitoring = new Monitoring(
    { database, jobs, resources, runtime: () => runtime },
    {
      queueSampleMs: config.queueSampleMs,
      queueHistoryMs: QUEUE_HISTORY_MS,
      prices: { perGpuSecond: parseGpuPrices(config.gpuPrices), activeDiscount: config.activeWorkerDiscount },
    },
  );
  const app = buildApp({ config, keys, jobs, resources, publicUrl, runtime: () => runtime, monitoring });
  const sweeper = new JobSweeper(jobs, new WebhookSender(jobStorage.jobs, config.webhookRetryDelayMs, app.log), config, app.log);

  const address = await app.listen({ host: config.host, port: config.port });
  url = address;
  sweeper.start();
  monitoring.start(app.log);
  try {
    runtime = await startRuntime({
      config,
      database,
      resources,
      jobs,
      workerEnv: (endpointId, workerId) => workerEnv(config, publicUrl(), keys, endpointId, workerId),
      coldStart: (endpointId, seconds) => monitoring.metrics.coldStart(endpointId, seconds),
      log: app.log,
    });
  } catch (err) {
    monitoring.stop();
    await sweeper.stop();
    await app.close();
    database.close();
    throw err;
  }
  app.log.info(
    { url, publicUrl: publicUrl(), dataDir: config.dataDir, startupMs: Math.round(performance.now() - started) },
    "control plane listening",
  );
  if (generatedApiKeyFile) app.log.info({ file: generatedApiKeyFile }, "no API key configured: using the one in this file");

  return {
    app,
    url,
    async close() {
      await runtime?.stop();
      monitoring.stop();
      await sweeper.stop();
      jobs.close();
      await app.close();
      database.close();
    },
  };
}
