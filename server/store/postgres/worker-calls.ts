import type { WorkerCallRow, WorkerCallStore } from "../../jobs/stores";
import { plain, type Sql } from "./database";

/**
 * How long a ping waits for others to go with it: 2,000 idle workers ping 200 times a second, which become 10
 * statements instead of 200 (each costs the control plane as much CPU as the HTTP call it records).
 */
const PING_BATCH_MS = 100;

interface PendingTouch {
  endpoint_id: string;
  id: string;
  first_seen_at: number;
  last_seen_at: number;
  sdk_version: string | null;
}

/** The worker API's record of who called, in PostgreSQL. */
export class PostgresWorkerCallStore implements WorkerCallStore {
  private pending = new Map<string, PendingTouch>();
  private batch: Promise<void> | undefined;

  constructor(private readonly sql: Sql) {}

  touchBatched(endpointId: string, id: string, now: number, sdkVersion?: string): Promise<void> {
    const key = `${endpointId}\u0000${id}`;
    const earlier = this.pending.get(key);
    const at = Math.max(now, earlier?.last_seen_at ?? now);
    this.pending.set(key, { endpoint_id: endpointId, id, first_seen_at: at, last_seen_at: at, sdk_version: sdkVersion ?? earlier?.sdk_version ?? null });
    this.batch ??= new Promise((resolve) => setTimeout(resolve, PING_BATCH_MS)).then(() => this.writeBatch());
    return this.batch;
  }

  /** One upsert for every worker heard from in the window, in key order (two control planes lock rows alike). */
  private async writeBatch(): Promise<void> {
    const rows = [...this.pending.values()].sort((a, b) => a.endpoint_id.localeCompare(b.endpoint_id) || a.id.localeCompare(b.id));
    this.pending = new Map();
    this.batch = undefined;
    await this.sql`
      INSERT INTO workers ${this.sql(rows, "endpoint_id", "id", "first_seen_at", "last_seen_at", "sdk_version")}
      ON CONFLICT (endpoint_id, id) DO UPDATE
        SET last_seen_at = GREATEST(workers.last_seen_at, EXCLUDED.last_seen_at),
          sdk_version = COALESCE(EXCLUDED.sdk_version, workers.sdk_version)`;
  }

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
