import type { FleetWorkerRow, FleetWorkerRows } from "../fleet-workers";
import { plain, type Sql } from "./database";

/** The runtime_workers table in PostgreSQL; writes land in the order they were made. */
export class PostgresFleetWorkerRows implements FleetWorkerRows {
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly sql: Sql) {}

  load(): Promise<FleetWorkerRow[]> {
    return plain(this.sql<FleetWorkerRow[]>`SELECT * FROM runtime_workers`);
  }

  save(row: FleetWorkerRow): Promise<void> {
    const { id: _id, endpoint_id: _endpoint, created_at: _created, ...updated } = row;
    return this.inOrder(() => this.sql`INSERT INTO runtime_workers ${this.sql(row)} ON CONFLICT (id) DO UPDATE SET ${this.sql(updated)}`);
  }

  remove(id: string): Promise<void> {
    return this.inOrder(() => this.sql`DELETE FROM runtime_workers WHERE id = ${id}`);
  }

  /** The pool may run two statements at once; chained, a later write of a worker never lands before an earlier one. */
  private inOrder(write: () => PromiseLike<unknown>): Promise<void> {
    const done = this.last.catch(() => undefined).then(write);
    this.last = done;
    return done.then(() => undefined);
  }
}
