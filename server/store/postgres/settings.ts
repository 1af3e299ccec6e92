import type { Settings } from "../settings";
import type { Sql } from "./database";

/** The settings table: the first control plane to ask makes a value; every other one reads that one. */
export class PostgresSettings implements Settings {
  constructor(private readonly sql: Sql) {}

  async readOrCreate(name: string, make: () => string): Promise<string> {
    await this.sql`INSERT INTO settings (name, value) VALUES (${name}, ${make()}) ON CONFLICT (name) DO NOTHING`;
    const [row] = await this.sql<Array<{ value: string }>>`SELECT value FROM settings WHERE name = ${name}`;
    return row!.value;
  }
}
