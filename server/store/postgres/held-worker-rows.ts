import type { HeldWorkerRows, WorkerRef } from "../../jobs/stores";
import { WritesInOrder, type Sql } from "./database";

/** Which workers are held, in PostgreSQL, for every control plane to read; writes land in the order they were made. */
export class PostgresHeldWorkerRows implements HeldWorkerRows {
  private readonly writes = new WritesInOrder();

  constructor(private readonly sql: Sql) {}

  async all(): Promise<WorkerRef[]> {
    const rows = await this.sql<Array<{ endpoint_id: string; worker_id: string }>>`SELECT endpoint_id, worker_id FROM held_workers`;
    return rows.map((r) => ({ endpointId: r.endpoint_id, workerId: r.worker_id }));
  }

  hold({ endpointId, workerId }: WorkerRef): Promise<void> {
    return this.writes.run(() => this.sql`INSERT INTO held_workers (endpoint_id, worker_id) VALUES (${endpointId}, ${workerId}) ON CONFLICT DO NOTHING`);
  }

  release({ endpointId, workerId }: WorkerRef): Promise<void> {
    return this.writes.run(() => this.sql`DELETE FROM held_workers WHERE endpoint_id = ${endpointId} AND worker_id = ${workerId}`);
  }
}
