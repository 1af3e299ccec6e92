import type { Statement } from "better-sqlite3";
import type { GpuDevice } from "../policy/worker-model";
import type { LifecyclePhase, RuntimeWorker, WorkerType } from "../policy/worker-model";
import type { BerthDatabase } from "./database";

/** A fleet worker as stored, the same in SQLite and PostgreSQL. */
export interface FleetWorkerRow {
  id: string;
  endpoint_id: string;
  revision: number;
  type: WorkerType;
  phase: LifecyclePhase;
  gpu_ids: string;
  gpu_type_id: string | null;
  gpu_simulated: number;
  memory_bytes: number | null;
  reason: string | null;
  restarts: number;
  next_restart_at: number | null;
  unhealthy_since: number | null;
  created_at: number;
  started_at: number | null;
  phase_since: number;
}

const toWorker = (row: FleetWorkerRow): RuntimeWorker => ({
  id: row.id,
  endpointId: row.endpoint_id,
  revision: row.revision,
  type: row.type,
  phase: row.phase,
  gpus: (JSON.parse(row.gpu_ids) as string[]).map((id) => ({ id, typeId: row.gpu_type_id ?? "", simulated: row.gpu_simulated === 1 })),
  memoryBytes: row.memory_bytes ?? undefined,
  reason: row.reason ?? undefined,
  restarts: row.restarts,
  nextRestartAt: row.next_restart_at ?? undefined,
  unhealthySince: row.unhealthy_since ?? undefined,
  createdAt: row.created_at,
  startedAt: row.started_at ?? undefined,
  phaseSince: row.phase_since,
});

const toRow = (w: RuntimeWorker): FleetWorkerRow => ({
  id: w.id,
  endpoint_id: w.endpointId,
  revision: w.revision,
  type: w.type,
  phase: w.phase,
  gpu_ids: JSON.stringify(w.gpus.map((g: GpuDevice) => g.id)),
  gpu_type_id: w.gpus[0]?.typeId ?? null,
  gpu_simulated: w.gpus.some((g) => g.simulated) ? 1 : 0,
  memory_bytes: w.memoryBytes ?? null,
  reason: w.reason ?? null,
  restarts: w.restarts,
  next_restart_at: w.nextRestartAt ?? null,
  unhealthy_since: w.unhealthySince ?? null,
  created_at: w.createdAt,
  started_at: w.startedAt ?? null,
  phase_since: w.phaseSince,
});

/** Where the fleet's decisions are kept: SQLite's or PostgreSQL's runtime_workers table. */
export interface FleetWorkerRows {
  load(): Promise<FleetWorkerRow[]>;
  /** Starts writing at once, in call order; resolves once durable. */
  save(row: FleetWorkerRow): Promise<void>;
  remove(id: string): Promise<void>;
}

/**
 * The Docker fleet's workers, as it decided to run them (the `runtime_workers` table): one row each, written whole.
 * Only the control plane that runs the fleet writes them, so they live in memory, loaded when the fleet starts and
 * written through; a failed write is logged by `onWriteFailed` and the next reconcile pass converges again.
 */
export class FleetWorkerStore {
  private readonly workers = new Map<string, RuntimeWorker>();

  private constructor(
    private readonly rows: FleetWorkerRows,
    private readonly onWriteFailed: (err: Error) => void,
  ) {}

  static async open(rows: FleetWorkerRows, onWriteFailed: (err: Error) => void): Promise<FleetWorkerStore> {
    const store = new FleetWorkerStore(rows, onWriteFailed);
    for (const row of await rows.load()) store.workers.set(row.id, toWorker(row));
    return store;
  }

  /** Oldest first. */
  all(): RuntimeWorker[] {
    return [...this.workers.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  ofEndpoint(endpointId: string): RuntimeWorker[] {
    return this.all().filter((w) => w.endpointId === endpointId);
  }

  get(id: string): RuntimeWorker | undefined {
    return this.workers.get(id);
  }

  save(worker: RuntimeWorker): void {
    this.workers.set(worker.id, worker);
    this.rows.save(toRow(worker)).catch(this.onWriteFailed);
  }

  remove(id: string): void {
    this.workers.delete(id);
    this.rows.remove(id).catch(this.onWriteFailed);
  }
}

/** The runtime_workers table in SQLite, written in the group transaction. */
export class SqliteFleetWorkerRows implements FleetWorkerRows {
  private readonly s: Record<string, Statement>;

  constructor(private readonly database: BerthDatabase) {
    const db = database.db;
    this.s = {
      all: db.prepare("SELECT * FROM runtime_workers"),
      save: db.prepare(`INSERT INTO runtime_workers (id, endpoint_id, revision, type, phase, gpu_ids, gpu_type_id, gpu_simulated,
          memory_bytes, reason, restarts, next_restart_at, unhealthy_since, created_at, started_at, phase_since)
        VALUES (@id, @endpoint_id, @revision, @type, @phase, @gpu_ids, @gpu_type_id, @gpu_simulated, @memory_bytes, @reason,
          @restarts, @next_restart_at, @unhealthy_since, @created_at, @started_at, @phase_since)
        ON CONFLICT (id) DO UPDATE SET revision = @revision, type = @type, phase = @phase, gpu_ids = @gpu_ids,
          gpu_type_id = @gpu_type_id, gpu_simulated = @gpu_simulated, memory_bytes = @memory_bytes, reason = @reason,
          restarts = @restarts, next_restart_at = @next_restart_at, unhealthy_since = @unhealthy_since,
          started_at = @started_at, phase_since = @phase_since`),
      remove: db.prepare("DELETE FROM runtime_workers WHERE id = ?"),
    };
  }

  async load(): Promise<FleetWorkerRow[]> {
    return this.s.all!.all() as FleetWorkerRow[];
  }

  async save(row: FleetWorkerRow): Promise<void> {
    this.database.write(() => this.s.save!.run(row));
  }

  async remove(id: string): Promise<void> {
    this.database.write(() => this.s.remove!.run(id));
  }
}
