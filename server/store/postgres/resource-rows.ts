import type { EndpointRow, ResourceChange, ResourceRow, ResourceRows, ResourceSnapshot, RevisionRow } from "../resources";
import { plain, WritesInOrder, type Sql } from "./database";

/** The resource tables in PostgreSQL: each admin write in one transaction, applied in the order they were made. */
export class PostgresResourceRows implements ResourceRows {
  private readonly writes = new WritesInOrder();

  constructor(private readonly sql: Sql) {}

  async load(): Promise<ResourceSnapshot> {
    const [templates, volumes, endpoints, revisions] = await Promise.all([
      plain(this.sql<ResourceRow[]>`SELECT id, name, spec, created_at, updated_at FROM templates`),
      plain(this.sql<ResourceRow[]>`SELECT id, name, spec, created_at, updated_at FROM network_volumes`),
      plain(this.sql<EndpointRow[]>`SELECT id, name, spec, revision, created_at, updated_at FROM endpoints`),
      plain(this.sql<RevisionRow[]>`SELECT endpoint_id, revision, spec, template_spec, created_at FROM endpoint_revisions`),
    ]);
    return { templates, volumes, endpoints, revisions };
  }

  apply(changes: ResourceChange[]): Promise<void> {
    return this.writes.run(() =>
      this.sql.begin(async (tx) => {
        for (const change of changes) {
          if (change.op === "addRevision") {
            await tx`INSERT INTO endpoint_revisions ${tx(change.row)}`;
          } else if (change.op === "reseal") {
            const { cell, from, to } = change;
            const [where, keys] =
              cell.table === "endpoint_revisions" ? ["endpoint_id = $2 AND revision = $3", [cell.endpointId, cell.revision]] : ["id = $2", [cell.id]];
            await tx.unsafe(`UPDATE ${cell.table} SET ${cell.column} = $1 WHERE ${where} AND ${cell.column} = $${keys.length + 2}`, [to, ...keys, from]);
          } else if (change.op === "put") {
            const { id: _id, created_at: _created, ...updated } = change.row;
            await tx`INSERT INTO ${tx(change.table)} ${tx(change.row)} ON CONFLICT (id) DO UPDATE SET ${tx(updated)}`;
          } else {
            await tx`DELETE FROM ${tx(change.table)} WHERE id = ${change.id}`;
          }
        }
      }),
    );
  }
}
