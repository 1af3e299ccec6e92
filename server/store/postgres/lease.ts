import type { Lease } from "../../cluster/lease";
import type { Sql } from "./database";

/**
 * A lease row in PostgreSQL. A claim is one statement that takes the row when it is free or expired, or renews it
 * for its holder, with the expiry on the database's own clock, so the control planes' clocks never have to agree.
 */
export class PostgresLease implements Lease {
  constructor(
    private readonly sql: Sql,
    private readonly name = "leader",
  ) {}

  async claim(holder: string, ttlMs: number): Promise<boolean> {
    const rows = await this.sql`
      INSERT INTO leases (name, holder, expires_at)
      VALUES (${this.name}, ${holder}, clock_timestamp() + ${ttlMs} * interval '1 millisecond')
      ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
        WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < clock_timestamp()
      RETURNING holder`;
    return rows.length === 1;
  }

  async release(holder: string): Promise<void> {
    await this.sql`DELETE FROM leases WHERE name = ${this.name} AND holder = ${holder}`;
  }
}
