import { withoutHash, type ApiKeyRecord, type ApiKeyRows, type StoredApiKey } from "../../api-keys";
import { fromRow, toRow, type ApiKeyRow } from "../api-key-rows";
import type { Sql } from "./database";

/** The api_keys table in PostgreSQL. */
export class PostgresApiKeyRows implements ApiKeyRows {
  constructor(private readonly sql: Sql) {}

  async insert(key: StoredApiKey): Promise<void> {
    await this.sql`INSERT INTO api_keys ${this.sql(toRow(key) as unknown as Record<string, unknown>)}`;
  }

  async get(id: string): Promise<StoredApiKey | undefined> {
    const [row] = await this.sql<ApiKeyRow[]>`SELECT * FROM api_keys WHERE id = ${id}`;
    return row && fromRow(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.sql<ApiKeyRow[]>`SELECT * FROM api_keys ORDER BY created_at, id`).map((row) => withoutHash(fromRow(row)));
  }

  async revoke(id: string, now: number): Promise<boolean> {
    return (await this.sql`UPDATE api_keys SET revoked_at = ${now} WHERE id = ${id} AND revoked_at IS NULL`).count > 0;
  }

  async used(id: string, now: number): Promise<void> {
    await this.sql`UPDATE api_keys SET last_used_at = ${now} WHERE id = ${id}`;
  }
}
