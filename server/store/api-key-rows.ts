import type { Statement } from "better-sqlite3";
import { withoutHash, type ApiKeyRecord, type ApiKeyRows, type KeyScope, type StoredApiKey } from "../api-keys";
import type { BerthDatabase } from "./database";

/** An api_keys row, the same in SQLite and PostgreSQL. */
export interface ApiKeyRow {
  id: string;
  name: string;
  scope: KeyScope;
  endpoint_ids: string;
  secret_hash: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export function toRow(key: StoredApiKey): ApiKeyRow {
  return {
    id: key.id,
    name: key.name,
    scope: key.scope,
    endpoint_ids: JSON.stringify(key.endpointIds),
    secret_hash: key.secretHash,
    created_at: key.createdAt,
    expires_at: key.expiresAt,
    last_used_at: key.lastUsedAt,
    revoked_at: key.revokedAt,
  };
}

export function fromRow(row: ApiKeyRow): StoredApiKey {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope,
    endpointIds: JSON.parse(row.endpoint_ids) as string[],
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** The api_keys table in SQLite. */
export class SqliteApiKeyRows implements ApiKeyRows {
  private readonly s: Record<string, Statement>;

  constructor(private readonly database: BerthDatabase) {
    const db = database.db;
    this.s = {
      insert: db.prepare(`INSERT INTO api_keys (id, name, scope, endpoint_ids, secret_hash, created_at, expires_at, last_used_at, revoked_at)
        VALUES (@id, @name, @scope, @endpoint_ids, @secret_hash, @created_at, @expires_at, @last_used_at, @revoked_at)`),
      get: db.prepare("SELECT * FROM api_keys WHERE id = ?"),
      list: db.prepare("SELECT * FROM api_keys ORDER BY created_at, id"),
      revoke: db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
      used: db.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?"),
    };
  }

  async insert(key: StoredApiKey): Promise<void> {
    this.database.write(() => this.s.insert!.run(toRow(key)));
    await this.database.durable();
  }

  async get(id: string): Promise<StoredApiKey | undefined> {
    const row = this.s.get!.get(id) as ApiKeyRow | undefined;
    return row && fromRow(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (this.s.list!.all() as ApiKeyRow[]).map((row) => withoutHash(fromRow(row)));
  }

  async revoke(id: string, now: number): Promise<boolean> {
    const revoked = this.database.write(() => this.s.revoke!.run(now, id).changes > 0);
    await this.database.durable();
    return revoked;
  }

  async used(id: string, now: number): Promise<void> {
    this.database.write(() => this.s.used!.run(now, id));
  }
}
