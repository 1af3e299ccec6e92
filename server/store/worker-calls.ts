import type { Statement } from "better-sqlite3";
import type { WorkerCallRow, WorkerCallStore } from "../jobs/stores";
import type { BerthDatabase } from "./database";

/** The worker API's record of who called, in SQLite. */
export class SqliteWorkerCallStore implements WorkerCallStore {
  private readonly s: Record<string, Statement>;

  constructor(private readonly database: BerthDatabase) {
    const db = database.db;
    this.s = {
      touch: db.prepare(`INSERT INTO workers (endpoint_id, id, first_seen_at, last_seen_at, sdk_version)
        VALUES (@endpointId, @id, @now, @now, @sdkVersion)
        ON CONFLICT (endpoint_id, id) DO UPDATE SET last_seen_at = @now, sdk_version = COALESCE(@sdkVersion, sdk_version)`),
      unhealthy: db.prepare("UPDATE workers SET unhealthy_reason = ? WHERE endpoint_id = ? AND id = ?"),
      leaving: db.prepare("UPDATE workers SET leaving = 1 WHERE endpoint_id = ? AND id = ?"),
      silentSince: db.prepare("SELECT * FROM workers WHERE last_seen_at < ?"),
      remove: db.prepare("DELETE FROM workers WHERE endpoint_id = ? AND id = ?"),
      removeOfEndpoint: db.prepare("DELETE FROM workers WHERE endpoint_id = ?"),
      ofEndpoint: db.prepare("SELECT * FROM workers WHERE endpoint_id = ?"),
      get: db.prepare("SELECT * FROM workers WHERE endpoint_id = ? AND id = ?"),
      graceAll: db.prepare("UPDATE workers SET last_seen_at = ?"),
    };
  }

  /** Records that a worker called; cheap enough for every call (an upsert inside the group transaction). */
  async touch(endpointId: string, id: string, now: number, sdkVersion?: string): Promise<void> {
    this.database.write(() => this.s.touch!.run({ id, endpointId, now, sdkVersion: sdkVersion ?? null }));
  }

  /** In-process, a statement costs no round trip: written at once. */
  touchBatched(endpointId: string, id: string, now: number, sdkVersion?: string): Promise<void> {
    return this.touch(endpointId, id, now, sdkVersion);
  }

  async markUnhealthy(endpointId: string, id: string, reason: string): Promise<void> {
    this.database.write(() => this.s.unhealthy!.run(reason, endpointId, id));
  }

  async markLeaving(endpointId: string, id: string): Promise<void> {
    this.database.write(() => this.s.leaving!.run(endpointId, id));
  }

  async silentSince(cutoff: number): Promise<WorkerCallRow[]> {
    return this.s.silentSince!.all(cutoff) as WorkerCallRow[];
  }

  async remove(endpointId: string, id: string): Promise<void> {
    this.database.write(() => this.s.remove!.run(endpointId, id));
  }

  async removeOfEndpoint(endpointId: string): Promise<void> {
    this.database.write(() => this.s.removeOfEndpoint!.run(endpointId));
  }

  async get(endpointId: string, id: string): Promise<WorkerCallRow | undefined> {
    return this.s.get!.get(endpointId, id) as WorkerCallRow | undefined;
  }

  async ofEndpoint(endpointId: string): Promise<WorkerCallRow[]> {
    return this.s.ofEndpoint!.all(endpointId) as WorkerCallRow[];
  }

  /** After a restart nobody could call while the server was down: give every known worker a fresh start. */
  async resetLastSeen(now: number): Promise<void> {
    this.database.write(() => this.s.graceAll!.run(now));
  }
}
