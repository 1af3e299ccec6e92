import type { RuntimeViewRow, RuntimeViewRows } from "../runtime-views";
import { WritesInOrder, type Sql } from "./database";

/** The runtime_views table: the leader's runtime views, for the other control planes on the database. */
export class PostgresRuntimeViewRows implements RuntimeViewRows {
  private readonly writes = new WritesInOrder();

  constructor(private readonly sql: Sql) {}

  async load(): Promise<RuntimeViewRow[]> {
    const rows = await this.sql<Array<{ endpoint_id: string; published: string }>>`SELECT endpoint_id, published FROM runtime_views`;
    return rows.map((r) => ({ endpointId: r.endpoint_id, published: r.published }));
  }

  write(changed: RuntimeViewRow[], removed: string[]): Promise<void> {
    return this.writes.run(() =>
      this.sql.begin(async (tx) => {
        for (const row of changed) {
          await tx`INSERT INTO runtime_views (endpoint_id, published) VALUES (${row.endpointId}, ${row.published})
                   ON CONFLICT (endpoint_id) DO UPDATE SET published = EXCLUDED.published`;
        }
        if (removed.length > 0) await tx`DELETE FROM runtime_views WHERE endpoint_id = ANY(${removed})`;
      }),
    );
  }
}
