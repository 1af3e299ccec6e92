import type { JobStorage } from "../../jobs/stores";
import type { PostgresDatabase } from "./database";
import { GroupCommit } from "./group-commit";
import { PostgresHeldWorkerRows } from "./held-worker-rows";
import { PostgresJobStore } from "./jobs";
import { PostgresWorkerCallWrites } from "./worker-call-writes";
import { PostgresWorkerCallStore } from "./worker-calls";

/** The job service's storage in PostgreSQL; submissions, takes and results share their commits under load. */
export function postgresJobStorage(database: PostgresDatabase): JobStorage {
  const group = new GroupCommit(database.sql);
  return {
    jobs: new PostgresJobStore(database.sql, group),
    workerCalls: new PostgresWorkerCallStore(database.sql),
    calls: new PostgresWorkerCallWrites(database.sql, group),
    heldWorkers: new PostgresHeldWorkerRows(database.sql),
    durable: () => database.durable(),
  };
}
