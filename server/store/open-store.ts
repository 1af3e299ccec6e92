import path from "node:path";
import type { FastifyBaseLogger } from "fastify";
import type { JobStorage } from "../jobs/stores";
import { soleLease, type Lease } from "../cluster/lease";
import { noSignals, type Signals } from "../cluster/signals";
import type { UsageStore } from "../usage/usage-store";
import { BerthDatabase } from "./database";
import { SqliteFleetWorkerRows, type FleetWorkerRows } from "./fleet-workers";
import { sqliteJobStorage } from "./jobs";
import { PostgresDatabase } from "./postgres/database";
import { PostgresFleetWorkerRows } from "./postgres/fleet-worker-rows";
import { postgresJobStorage } from "./postgres/job-storage";
import { PostgresLease } from "./postgres/lease";
import { PostgresSettings } from "./postgres/settings";
import { PostgresApiKeyRows } from "./postgres/api-key-rows";
import { SqliteApiKeyRows } from "./api-key-rows";
import type { ApiKeyRows } from "../api-keys";
import type { AuditRows } from "../audit";
import { SqliteAuditRows } from "./audit-rows";
import { PostgresAuditRows } from "./postgres/audit-rows";
import { PostgresSignals } from "./postgres/signals";
import { PostgresResourceRows } from "./postgres/resource-rows";
import { PostgresRuntimeViewRows } from "./postgres/runtime-view-rows";
import { PostgresUsageStore } from "./postgres/usage-runs";
import { SqliteResourceRows } from "./resource-rows";
import { SealedResourceRows } from "./sealed-resource-rows";
import { SecretBox } from "./secret-box";
import { SECRETS_KEY_REQUIRED } from "../secret-settings";
import type { ResourceRows } from "./resources";
import type { RuntimeViewRows } from "./runtime-views";
import { DataDirSettings, type Settings } from "./settings";
import { SqliteUsageStore } from "./usage-runs";

/** Everything the control plane keeps, on one backend. */
export interface ControlPlaneStore {
  /** "sqlite" or "postgres", for the log. */
  kind: string;
  /** Where: the file, or the database URL with its password masked. */
  location: string;
  jobs: JobStorage;
  resources: ResourceRows;
  fleetWorkers: FleetWorkerRows;
  usage: UsageStore;
  /** Who leads the control planes sharing this store. */
  lease: Lease;
  /** How they tell each other what changed. */
  signals: Signals;
  /** What a control plane makes once and keeps: its worker-key secret, its id on the runtime. */
  settings: Settings;
  /** API keys with scopes, hashed. */
  apiKeys: ApiKeyRows;
  /** The audit log of admin writes. */
  audit: AuditRows;
  /** Where the leader publishes its runtime's views for the others; none with SQLite, whose control plane is alone. */
  runtimeViews?: RuntimeViewRows;
  close(): Promise<void>;
}

/**
 * PostgreSQL when a database URL is given (production: several control planes may share it), else SQLite in the
 * data directory (the embedded default that needs nothing). Either is migrated before anything reads it, and its
 * secret env values are encrypted with the secrets key (`secretsKeyFile`; SQLite's default is made in the data
 * directory, PostgreSQL's replicas must be given the one they share).
 */
export async function openStore(
  options: { dataDir: string; databaseUrl?: string; secretsKeyFile?: string },
  log: FastifyBaseLogger,
): Promise<ControlPlaneStore> {
  const box = secretBoxFor(options);
  const store = await openBackend(options, log);
  const resources = new SealedResourceRows(store.resources, box);
  const sealed = await resources.sealPlaintext().catch(async (err: Error) => {
    await store.close();
    throw err;
  });
  if (sealed > 0) log.info({ specs: sealed }, "encrypted the secret env values stored before they were encrypted at rest");
  return { ...store, resources };
}

function secretBoxFor(options: { dataDir: string; databaseUrl?: string; secretsKeyFile?: string }): SecretBox {
  if (options.secretsKeyFile) return SecretBox.load(options.secretsKeyFile, { create: false });
  if (options.databaseUrl) throw new Error(SECRETS_KEY_REQUIRED);
  return SecretBox.load(path.join(options.dataDir, "secrets.key"), { create: true });
}

async function openBackend(options: { dataDir: string; databaseUrl?: string }, log: FastifyBaseLogger): Promise<ControlPlaneStore> {
  if (options.databaseUrl) {
    const database = await PostgresDatabase.open(options.databaseUrl);
    const signals = new PostgresSignals(database.sql, (err) => log.error({ err }, "could not signal the other control planes"));
    return {
      kind: "postgres",
      location: database.name,
      jobs: postgresJobStorage(database),
      resources: new PostgresResourceRows(database.sql),
      fleetWorkers: new PostgresFleetWorkerRows(database.sql),
      usage: new PostgresUsageStore(database.sql),
      lease: new PostgresLease(database.sql),
      signals,
      settings: new PostgresSettings(database.sql),
      apiKeys: new PostgresApiKeyRows(database.sql),
      audit: new PostgresAuditRows(database.sql),
      runtimeViews: new PostgresRuntimeViewRows(database.sql),
      close: async () => {
        await signals.close();
        await database.close();
      },
    };
  }
  const file = path.join(options.dataDir, "berth.db");
  const database = new BerthDatabase(file);
  return {
    kind: "sqlite",
    location: file,
    jobs: sqliteJobStorage(database),
    resources: new SqliteResourceRows(database),
    fleetWorkers: new SqliteFleetWorkerRows(database),
    usage: new SqliteUsageStore(database),
    lease: soleLease,
    signals: noSignals,
    settings: new DataDirSettings(options.dataDir),
    apiKeys: new SqliteApiKeyRows(database),
    audit: new SqliteAuditRows(database),
    close: async () => database.close(),
  };
}
