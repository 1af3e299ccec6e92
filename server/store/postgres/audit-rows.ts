import { fromAuditRow, toAuditRow, type AuditEntry, type AuditQuery, type AuditRow, type AuditRows, type NewAuditEntry } from "../../audit";
import type { Sql } from "./database";

/** The audit_log table in PostgreSQL. */
export class PostgresAuditRows implements AuditRows {
  constructor(private readonly sql: Sql) {}

  async append(entry: NewAuditEntry): Promise<void> {
    await this.sql`INSERT INTO audit_log ${this.sql(toAuditRow(entry) as unknown as Record<string, unknown>)}`;
  }

  async list(query: AuditQuery): Promise<AuditEntry[]> {
    const target = query.targetId ?? null;
    const rows =
      query.afterSeq === undefined
        ? await this.sql<AuditRow[]>`SELECT * FROM audit_log WHERE (${target}::text IS NULL OR target_id = ${target})
            ORDER BY seq DESC LIMIT ${query.limit}`
        : await this.sql<AuditRow[]>`SELECT * FROM audit_log WHERE seq > ${query.afterSeq}
            AND (${target}::text IS NULL OR target_id = ${target}) ORDER BY seq LIMIT ${query.limit}`;
    return rows.map(fromAuditRow);
  }
}
