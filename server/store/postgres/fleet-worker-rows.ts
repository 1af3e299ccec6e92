import type { FleetWorkerRow, FleetWorkerRows } from "../fleet-workers";
import { plain, WritesInOrder, type Sql } from "./database";

/** The runtime_workers table in PostgreSQL; writes land in the order they were made. */
export class PostgresFleetWorkerRows implements FleetWorkerRows {
  private readonly writes = new WritesInOrder();

  constructor(private readonly sql: Sql) {}

  load(): Promise<FleetWorkerRow[]> {
    return plain(this.sql<FleetWorkerRow[]>`SELECT * FROM runtime_workers`);
  }

  save(row: FleetWorkerRow): Promise<void> {
    const { id: _id, endpoint_id: _endpoint, created_at: _created, ...updated } = row;
    return this.writes.run(() => this.sql`INSERT INTO runtime_workers ${this.sql(row)} ON CONFLICT (id) DO UPDATE SET ${this.sql(updated)}`);
  }

  remove(id: string): Promise<void> {
    return this.writes.run(() => this.sql`DELETE FROM runtime_workers WHERE id = ${id}`);
  }
}
