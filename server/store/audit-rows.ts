import type { Statement } from "better-sqlite3";
import { fromAuditRow, toAuditRow, type AuditEntry, type AuditQuery, type AuditRow, type AuditRows, type NewAuditEntry } from "../audit";
import type { BerthDatabase } from "./database";

/** The audit_log table in SQLite. */
export class SqliteAuditRows implements AuditRows {
  private readonly s: Record<string, Statement>;

  constructor(private readonly database: BerthDatabase) {
    const db = database.db;
    this.s = {
      append: db.prepare(`INSERT INTO audit_log (at, key_id, key_name, action, target_kind, target_id, before, after)
        VALUES (@at, @key_id, @key_name, @action, @target_kind, @target_id, @before, @after)`),
      newest: db.prepare("SELECT * FROM audit_log WHERE (@target_id IS NULL OR target_id = @target_id) ORDER BY seq DESC LIMIT @limit"),
      after: db.prepare("SELECT * FROM audit_log WHERE seq > @after AND (@target_id IS NULL OR target_id = @target_id) ORDER BY seq LIMIT @limit"),
    };
  }

  async append(entry: NewAuditEntry): Promise<void> {
    this.database.write(() => this.s.append!.run(toAuditRow(entry)));
    await this.database.durable();
  }

  async list(query: AuditQuery): Promise<AuditEntry[]> {
    const params = { limit: query.limit, target_id: query.targetId ?? null, after: query.afterSeq ?? null };
    const rows = (query.afterSeq === undefined ? this.s.newest! : this.s.after!).all(params) as AuditRow[];
    return rows.map(fromAuditRow);
  }
}
