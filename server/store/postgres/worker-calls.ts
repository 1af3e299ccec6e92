import type { WorkerCallRow, WorkerCallStore } from "../../jobs/stores";
import { plain, type Sql } from "./database";

/** The worker API's record of who called, in PostgreSQL. */
export class PostgresWorkerCallStore implements WorkerCallStore {
  constructor(private readonly sql: Sql) {}

  async touch(endpointId: string, id: string, now: number, sdkVersion?: string): Promise<void> {
    await this.sql`
      INSERT INTO workers (endpoint_id, id, first_seen_at, last_seen_at, sdk_version)
      VALUES (${endpointId}, ${id}, ${now}, ${now}, ${sdkVersion ?? null})
      ON CONFLICT (endpoint_id, id) DO UPDATE
        SET last_seen_at = EXCLUDED.last_seen_at, sdk_version = COALESCE(EXCLUDED.sdk_version, workers.sdk_version)`;
  }

  async markUnhealthy(endpointId: string, id: string, reason: string): Promise<void> {
    await this.sql`UPDATE workers SET unhealthy_reason = ${reason} WHERE endpoint_id = ${endpointId} AND id = ${id}`;
  }

  async markLeaving(endpointId: string, id: string): Promise<void> {
    await this.sql`UPDATE workers SET leaving = 1 WHERE endpoint_id = ${endpointId} AND id = ${id}`;
  }

  async silentSince(cutoff: number): Promise<WorkerCallRow[]> {
    return plain(this.sql<WorkerCallRow[]>`SELECT * FROM workers WHERE last_seen_at < ${cutoff}`);
  }

  async remove(endpointId: string, id: string): Promise<void> {
    await this.sql`DELETE FROM workers WHERE endpoint_id = ${endpointId} AND id = ${id}`;
  }

  async removeOfEndpoint(endpointId: string): Promise<void> {
    await this.sql`DELETE FROM workers WHERE endpoint_id = ${endpointId}`;
  }

  async get(endpointId: string, id: string): Promise<WorkerCallRow | undefined> {
    const [row] = await this.sql<WorkerCallRow[]>`SELECT * FROM workers WHERE endpoint_id = ${endpointId} AND id = ${id}`;
    return row;
  }

  async ofEndpoint(endpointId: string): Promise<WorkerCallRow[]> {
    return plain(this.sql<WorkerCallRow[]>`SELECT * FROM workers WHERE endpoint_id = ${endpointId}`);
  }

  async resetLastSeen(now: number): Promise<void> {
    await this.sql`UPDATE workers SET last_seen_at = ${now}`;
  }
}
