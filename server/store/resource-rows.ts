import type { Statement } from "better-sqlite3";
import type { BerthDatabase } from "./database";
import type { EndpointRow, ResourceChange, ResourceRow, ResourceRows, ResourceSnapshot, RevisionRow, ResourceTable, SpecCell } from "./resources";

/** The resource tables in SQLite: every admin write lands in the current group transaction, whole. */
export class SqliteResourceRows implements ResourceRows {
  private readonly put: Record<ResourceTable, Statement>;
  private readonly remove: Record<ResourceTable, Statement>;
  private readonly addRevision: Statement;
  private readonly loadAll: Record<keyof ResourceSnapshot, Statement>;

  constructor(private readonly database: BerthDatabase) {
    const db = database.db;
    const upsert = (table: ResourceTable, columns: string[]) =>
      db.prepare(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})
        ON CONFLICT (id) DO UPDATE SET ${columns.filter((c) => c !== "id" && c !== "created_at").map((c) => `${c} = excluded.${c}`).join(", ")}`);
    const resource = ["id", "name", "spec", "created_at", "updated_at"];
    this.put = {
      templates: upsert("templates", resource),
      network_volumes: upsert("network_volumes", resource),
      endpoints: upsert("endpoints", [...resource, "revision"]),
    };
    this.remove = {
      templates: db.prepare("DELETE FROM templates WHERE id = ?"),
      network_volumes: db.prepare("DELETE FROM network_volumes WHERE id = ?"),
      endpoints: db.prepare("DELETE FROM endpoints WHERE id = ?"),
    };
    this.addRevision = db.prepare(`INSERT INTO endpoint_revisions (endpoint_id, revision, spec, template_spec, created_at)
      VALUES (@endpoint_id, @revision, @spec, @template_spec, @created_at)`);
    this.loadAll = {
      templates: db.prepare("SELECT * FROM templates"),
      volumes: db.prepare("SELECT * FROM network_volumes"),
      endpoints: db.prepare("SELECT * FROM endpoints"),
      revisions: db.prepare("SELECT * FROM endpoint_revisions"),
    };
  }

  async load(): Promise<ResourceSnapshot> {
    return {
      templates: this.loadAll.templates.all() as ResourceRow[],
      volumes: this.loadAll.volumes.all() as ResourceRow[],
      endpoints: this.loadAll.endpoints.all() as EndpointRow[],
      revisions: this.loadAll.revisions.all() as RevisionRow[],
    };
  }

  apply(changes: ResourceChange[]): Promise<void> {
    try {
      // A savepoint inside the group transaction, so that an endpoint and its revision land whole or not at all.
      this.database.write(() =>
        this.database.db.transaction(() => {
          for (const change of changes) {
            if (change.op === "addRevision") this.addRevision.run(change.row);
            else if (change.op === "put") this.put[change.table].run(change.row);
            else if (change.op === "reseal") this.reseal(change.cell, change.from, change.to);
            else this.remove[change.table].run(change.id);
          }
        })(),
      );
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.database.durable();
  }

  private reseal(cell: SpecCell, from: string, to: string): void {
    const [where, keys] = cell.table === "endpoint_revisions" ? ["endpoint_id = ? AND revision = ?", [cell.endpointId, cell.revision]] : ["id = ?", [cell.id]];
    this.database.db.prepare(`UPDATE ${cell.table} SET ${cell.column} = ? WHERE ${where} AND ${cell.column} = ?`).run(to, ...keys, from);
  }
}
