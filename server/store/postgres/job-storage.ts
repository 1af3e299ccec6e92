import type { JobStorage } from "../../jobs/stores";
import type { PostgresDatabase } from "./database";
import { PostgresHeldWorkerRows } from "./held-worker-rows";
import { PostgresJobStore } from "./jobs";
import { PostgresWorkerCallWrites } from "./worker-call-writes";
import { PostgresWorkerCallStore } from "./worker-calls";

/** The job service's storage in PostgreSQL. */
export function postgresJobStorage(database: PostgresDatabase): JobStorage {
  return {
    jobs: new PostgresJobStore(database.sql),
    workerCalls: new PostgresWorkerCallStore(database.sql),
    calls: new PostgresWorkerCallWrites(database.sql),
    heldWorkers: new PostgresHeldWorkerRows(database.sql),
    durable: () => database.durable(),
  };
}
