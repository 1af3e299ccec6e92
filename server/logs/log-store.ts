import fs from "node:fs";
import path from "node:path";
import type { FastifyBaseLogger } from "fastify";
import type { CollectedLine, LogLine } from "./log-line";

export interface LogStoreOptions {
  /** `<dataDir>/logs`: one folder per endpoint, one per worker in it. */
  dir: string;
  /** An endpoint's lines take at most this many bytes on disk; the oldest go first. */
  maxBytesPerEndpoint: number;
  /** How long a stopped worker's lines are kept. */
  retentionMs: number;
  now?: () => number;
  log: FastifyBaseLogger;
}

/** A line, or a worker that stopped: what a follower of an endpoint's logs is told. */
export type LogEvent = { kind: "line"; line: LogLine } | { kind: "stopped"; workerId: string };

export interface LogQuery {
  workerId?: string;
  /** Lines at this time or later (the store's time form: log-line.ts). */
  from?: string;
  /** Lines before this time. */
  to?: string;
  /** The last N lines of what the rest selects. */
  tail?: number;
}

interface Segment {
  seq: number;
  bytes: number;
}

interface WorkerLogs {
  /** Oldest first; new lines go to the last one while `open`. */
  segments: Segment[];
  open: boolean;
  /** The time of its newest line: a collector that starts again skips what is older. */
  lastTime?: string;
  /** When it stopped (or stopped being collected here); undefined while a collector reads it. */
  stoppedAt?: number;
}

interface EndpointLogs {
  bytes: number;
  workers: Map<string, WorkerLogs>;
}

/** A segment is this share of the endpoint's bound: dropping the oldest frees at least that much at once. */
const SEGMENTS_PER_BOUND = 8;
const STOPPED_MARKER = "stopped";
const SEGMENT = /^(\d{12})\.ndjson$/;

/**
 * Workers' log lines, in files beside the database rather than in it, so that a chatty worker's output never
 * waits on (or slows) the job store's commits. `<dir>/<endpoint>/<worker>/<seq>.ndjson` holds one JSON line per log
 * line ({time, stream, line}); `seq` counts across the store, so the oldest segment of an endpoint is the lowest.
 * Each endpoint's files are bounded in size (the oldest segment goes when a write would pass the bound) and a
 * stopped worker's folder (its `stopped` file holds when) is removed once `retentionMs` has passed, by `sweep`.
 *
 * Writes are queued and made in order off the caller's path; `read` waits for the queue first. Followers are told
 * of each line as it is taken, before it is on disk.
 */
export class LogStore {
  private readonly endpoints = new Map<string, EndpointLogs>();
  private readonly listeners = new Map<string, Set<(event: LogEvent) => void>>();
  private readonly madeDirs = new Set<string>();
  private nextSeq = 1;
  private writes: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly segmentBytes: number;

  private constructor(private readonly options: LogStoreOptions) {
    this.now = options.now ?? Date.now;
    this.segmentBytes = Math.max(1, Math.floor(options.maxBytesPerEndpoint / SEGMENTS_PER_BOUND));
  }

  /** Reads what an earlier run left: sizes, stop times (a worker without one stopped being collected when its last file was written). */
  static async open(options: LogStoreOptions): Promise<LogStore> {
    const store = new LogStore(options);
    await fs.promises.mkdir(options.dir, { recursive: true });
    for (const endpointDir of await fs.promises.readdir(options.dir, { withFileTypes: true })) {
      if (!endpointDir.isDirectory()) continue;
      const endpointId = decodeURIComponent(endpointDir.name);
      for (const workerDir of await fs.promises.readdir(path.join(options.dir, endpointDir.name), { withFileTypes: true })) {
        if (workerDir.isDirectory()) await store.load(endpointId, decodeURIComponent(workerDir.name));
      }
    }
    for (const [endpointId, endpoint] of store.endpoints) store.bound(endpointId, endpoint);
    return store;
  }

  /** Sweeps for expired workers every minute (or each retention window, if shorter). */
  start(): void {
    this.timer = setInterval(() => void this.sweep(), Math.min(60_000, this.options.retentionMs));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.writes;
  }

  /** A collector reads this worker now: it is no longer stopped. */
  workerStarted(endpointId: string, workerId: string): void {
    const worker = this.worker(endpointId, workerId);
    if (worker.stoppedAt === undefined) return;
    worker.stoppedAt = undefined;
    const marker = path.join(this.workerDir(endpointId, workerId), STOPPED_MARKER);
    this.queue(() => fs.promises.rm(marker, { force: true }));
  }

  /** The worker stopped (or this control plane stopped collecting it): its lines are kept for the retention window from now. */
  workerStopped(endpointId: string, workerId: string): void {
    const worker = this.worker(endpointId, workerId);
    if (worker.stoppedAt !== undefined) return;
    const at = this.now();
    worker.stoppedAt = at;
    const dir = this.workerDir(endpointId, workerId);
    this.queue(async () => {
      await this.mkdir(dir);
      await fs.promises.writeFile(path.join(dir, STOPPED_MARKER), String(at));
    });
    this.emit(endpointId, { kind: "stopped", workerId });
  }

  append(endpointId: string, workerId: string, lines: CollectedLine[]): void {
    if (lines.length === 0) return;
    const endpoint = this.endpoint(endpointId);
    const worker = this.worker(endpointId, workerId);
    const text = lines.map((l) => JSON.stringify({ time: l.time, stream: l.stream, line: l.line }) + "\n").join("");
    const bytes = Buffer.byteLength(text);
    let segment = worker.open ? worker.segments.at(-1) : undefined;
    if (!segment || (segment.bytes > 0 && segment.bytes + bytes > this.segmentBytes)) {
      segment = { seq: this.nextSeq++, bytes: 0 };
      worker.segments.push(segment);
      worker.open = true;
    }
    segment.bytes += bytes;
    endpoint.bytes += bytes;
    worker.lastTime = lines.at(-1)!.time;
    const dir = this.workerDir(endpointId, workerId);
    const file = path.join(dir, segmentName(segment.seq));
    this.queue(async () => {
      await this.mkdir(dir);
      await fs.promises.appendFile(file, text);
    });
    for (const line of lines) this.emit(endpointId, { kind: "line", line: { workerId, ...line } });
    this.bound(endpointId, endpoint);
  }

  hasWorker(endpointId: string, workerId: string): boolean {
    return this.endpoints.get(endpointId)?.workers.has(workerId) ?? false;
  }

  /** Whether the worker has stopped (or is not collected here); undefined for one the store has never seen. */
  stopped(endpointId: string, workerId: string): boolean | undefined {
    const worker = this.endpoints.get(endpointId)?.workers.get(workerId);
    return worker && worker.stoppedAt !== undefined;
  }

  lastTime(endpointId: string, workerId: string): string | undefined {
    return this.endpoints.get(endpointId)?.workers.get(workerId)?.lastTime;
  }

  /** Bytes an endpoint's lines take on disk. */
  bytes(endpointId: string): number {
    return this.endpoints.get(endpointId)?.bytes ?? 0;
  }

  /** The endpoint's lines that the query selects, oldest first (by time; lines of one time in the order they came). */
  async read(endpointId: string, query: LogQuery = {}): Promise<LogLine[]> {
    await this.writes;
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint) return [];
    const lines: LogLine[] = [];
    for (const [workerId, worker] of endpoint.workers) {
      if (query.workerId !== undefined && workerId !== query.workerId) continue;
      for (const segment of [...worker.segments]) {
        const file = path.join(this.workerDir(endpointId, workerId), segmentName(segment.seq));
        let text: string;
        try {
          text = await fs.promises.readFile(file, "utf8");
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // dropped by the bound meanwhile
          throw err;
        }
        for (const raw of text.split("\n")) {
          const line = parseLine(raw, workerId);
          if (!line) continue;
          if (query.from !== undefined && line.time < query.from) continue;
          if (query.to !== undefined && line.time >= query.to) continue;
          lines.push(line);
        }
      }
    }
    lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    return query.tail === undefined ? lines : lines.slice(Math.max(0, lines.length - query.tail));
  }

  /** Tells `listener` of each line taken for the endpoint and each of its workers that stops, until the returned function is called. */
  subscribe(endpointId: string, listener: (event: LogEvent) => void): () => void {
    const set = this.listeners.get(endpointId) ?? new Set();
    set.add(listener);
    this.listeners.set(endpointId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(endpointId);
    };
  }

  /** Removes the lines of workers stopped longer ago than the retention window; answers how many workers went. */
  async sweep(): Promise<number> {
    const now = this.now();
    let removed = 0;
    for (const [endpointId, endpoint] of this.endpoints) {
      for (const [workerId, worker] of endpoint.workers) {
        if (worker.stoppedAt === undefined || now - worker.stoppedAt < this.options.retentionMs) continue;
        endpoint.workers.delete(workerId);
        endpoint.bytes -= worker.segments.reduce((sum, s) => sum + s.bytes, 0);
        this.forget(this.workerDir(endpointId, workerId));
        removed++;
      }
      if (endpoint.workers.size === 0) {
        this.endpoints.delete(endpointId);
        this.forget(this.endpointDir(endpointId));
      }
    }
    if (removed > 0) this.options.log.info({ workers: removed, retentionMs: this.options.retentionMs }, "removed the logs of workers stopped beyond the retention window");
    await this.writes;
    return removed;
  }

  /** Resolves once every write queued so far is on disk (or has failed, and been logged). */
  flushed(): Promise<void> {
    return this.writes;
  }

  // ---- internals ----

  private async load(endpointId: string, workerId: string): Promise<void> {
    const dir = this.workerDir(endpointId, workerId);
    const worker = this.worker(endpointId, workerId);
    let newest = 0;
    for (const name of await fs.promises.readdir(dir)) {
      const match = SEGMENT.exec(name);
      if (!match) continue;
      const stat = await fs.promises.stat(path.join(dir, name));
      const seq = Number(match[1]);
      worker.segments.push({ seq, bytes: stat.size });
      this.endpoint(endpointId).bytes += stat.size;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      newest = Math.max(newest, stat.mtimeMs);
    }
    worker.segments.sort((a, b) => a.seq - b.seq);
    const last = worker.segments.at(-1);
    if (last) {
      const lines = (await fs.promises.readFile(path.join(dir, segmentName(last.seq)), "utf8")).split("\n");
      for (let i = lines.length - 1; i >= 0 && worker.lastTime === undefined; i--) worker.lastTime = parseLine(lines[i]!, workerId)?.time;
    }
    const marker = await fs.promises.readFile(path.join(dir, STOPPED_MARKER), "utf8").catch(() => undefined);
    worker.stoppedAt = marker !== undefined && Number.isFinite(Number(marker)) ? Number(marker) : Math.round(newest) || this.now();
  }

  /** Drops the endpoint's oldest segments while its files take more than the bound. */
  private bound(endpointId: string, endpoint: EndpointLogs): void {
    while (endpoint.bytes > this.options.maxBytesPerEndpoint) {
      let oldest: { workerId: string; worker: WorkerLogs } | undefined;
      for (const [workerId, worker] of endpoint.workers) {
        const first = worker.segments[0];
        if (first && (!oldest || first.seq < oldest.worker.segments[0]!.seq)) oldest = { workerId, worker };
      }
      if (!oldest) return;
      const segment = oldest.worker.segments.shift()!;
      if (oldest.worker.segments.length === 0) oldest.worker.open = false;
      endpoint.bytes -= segment.bytes;
      const file = path.join(this.workerDir(endpointId, oldest.workerId), segmentName(segment.seq));
      this.queue(() => fs.promises.rm(file, { force: true }));
    }
  }

  private forget(dir: string): void {
    for (const made of this.madeDirs) if (made === dir || made.startsWith(dir + path.sep)) this.madeDirs.delete(made);
    this.queue(() => fs.promises.rm(dir, { recursive: true, force: true }));
  }

  private endpoint(endpointId: string): EndpointLogs {
    let endpoint = this.endpoints.get(endpointId);
    if (!endpoint) {
      endpoint = { bytes: 0, workers: new Map() };
      this.endpoints.set(endpointId, endpoint);
    }
    return endpoint;
  }

  private worker(endpointId: string, workerId: string): WorkerLogs {
    const endpoint = this.endpoint(endpointId);
    let worker = endpoint.workers.get(workerId);
    if (!worker) {
      worker = { segments: [], open: false };
      endpoint.workers.set(workerId, worker);
    }
    return worker;
  }

  private emit(endpointId: string, event: LogEvent): void {
    for (const listener of this.listeners.get(endpointId) ?? []) listener(event);
  }

  private async mkdir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await fs.promises.mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  /** One write at a time, in the order asked: a segment's removal never overtakes its last append. */
  private queue(write: () => Promise<unknown>): void {
    this.writes = this.writes.then(write).then(
      () => undefined,
      (err: Error) => this.options.log.error({ err: err.message, dir: this.options.dir }, "could not write worker logs"),
    );
  }

  private endpointDir(endpointId: string): string {
    return path.join(this.options.dir, fileName(endpointId));
  }

  private workerDir(endpointId: string, workerId: string): string {
    return path.join(this.endpointDir(endpointId), fileName(workerId));
  }
}

/** Ids as file names: encoded, so that no id can name a path outside its folder. */
function fileName(id: string): string {
  const encoded = encodeURIComponent(id);
  return encoded === "." || encoded === ".." ? encoded.replace(/\./g, "%2E") : encoded;
}

function segmentName(seq: number): string {
  return `${String(seq).padStart(12, "0")}.ndjson`;
}

function parseLine(raw: string, workerId: string): LogLine | undefined {
  if (raw === "") return undefined;
  try {
    const { time, stream, line } = JSON.parse(raw) as Omit<LogLine, "workerId">;
    return { workerId, time, stream, line };
  } catch {
    return undefined; // a line cut short by a crash while it was written
  }
}
