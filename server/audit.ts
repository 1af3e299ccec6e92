/**
 * The audit log of admin writes (issue 17): which key did what to which thing, when, and the thing before and after
 * as the admin API shows it (secret values masked). Kept in the store beside the resources, so every replica writes
 * to and reads the same log; never pruned, as admin writes are few.
 */
export interface AuditEntry {
  seq: number;
  at: number;
  keyId: string;
  keyName: string;
  /** The request that made the change: "PUT /admin/templates/:id". */
  action: string;
  /** What kind of thing changed: "template", "endpoint", "network volume", "api key". */
  targetKind: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
}

export type NewAuditEntry = Omit<AuditEntry, "seq">;

export interface AuditQuery {
  limit: number;
  /** Entries after this one only (a cursor: the last seq read). */
  afterSeq?: number;
  targetId?: string;
}

/** Where the audit log is kept: the control plane's store. */
export interface AuditRows {
  append(entry: NewAuditEntry): Promise<void>;
  /** Newest first, or oldest first after a cursor. */
  list(query: AuditQuery): Promise<AuditEntry[]>;
}

/** An audit_log row, the same in SQLite and PostgreSQL: before and after as JSON text. */
export interface AuditRow {
  seq: number;
  at: number;
  key_id: string;
  key_name: string;
  action: string;
  target_kind: string;
  target_id: string | null;
  before: string | null;
  after: string | null;
}

export function toAuditRow(entry: NewAuditEntry): Omit<AuditRow, "seq"> {
  return {
    at: entry.at,
    key_id: entry.keyId,
    key_name: entry.keyName,
    action: entry.action,
    target_kind: entry.targetKind,
    target_id: entry.targetId,
    before: entry.before === undefined || entry.before === null ? null : JSON.stringify(entry.before),
    after: entry.after === undefined || entry.after === null ? null : JSON.stringify(entry.after),
  };
}

export function fromAuditRow(row: AuditRow): AuditEntry {
  return {
    seq: Number(row.seq),
    at: Number(row.at),
    keyId: row.key_id,
    keyName: row.key_name,
    action: row.action,
    targetKind: row.target_kind,
    targetId: row.target_id,
    before: row.before === null ? null : JSON.parse(row.before),
    after: row.after === null ? null : JSON.parse(row.after),
  };
}
