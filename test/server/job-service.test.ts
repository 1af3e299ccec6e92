// JobService against a real SQLite database (a file in a temp dir, with its WAL and group commit), as graphile-worker
// tests its SQL: every test puts jobs in known states through the service's public API, acts, and then checks the
// rows it meant to change field by field and that every other row (other jobs of the same endpoint, jobs of other
// endpoints, other workers) is exactly as it was. Time is a clock the test sets (Date.now is mocked per test) and
// sweeps are given explicit `now` values, so nothing here sleeps to let time pass.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { DomainError, NotAllowedError, NotFoundError } from "../../server/errors";
import type { JobRow, JobSubmission } from "../../server/jobs/model";
import { DEFAULT_EXECUTION_TIMEOUT_MS, DEFAULT_TTL_MS, JobService, type JobRun, type SubmitMode } from "../../server/jobs/service";
import type { JobStorage, WorkerCallRow } from "../../server/jobs/stores";
import { BerthDatabase } from "../../server/store/database";
import { sqliteJobStorage } from "../../server/store/jobs";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { postgresJobStorage } from "../../server/store/postgres/job-storage";
import { JOB_COLUMNS } from "../../server/store/postgres/jobs";
import { freshDatabase, positional } from "../helpers/postgres";

const T0 = 1_700_000_000_000;
const CONFIG = {
  maxAttempts: 3,
  workerLostAfterMs: 45_000,
  runRetentionMs: 1_800_000,
  runsyncRetentionMs: 60_000,
  runsyncWaitRetentionMs: 300_000,
};
type Config = typeof CONFIG;

interface Snapshot {
  jobs: JobRow[];
  workers: WorkerCallRow[];
}

/** Where a fixture's jobs live: a fresh SQLite file or a fresh PostgreSQL database, and raw reads of its rows. */
interface Backend {
  name: string;
  open(t: TestContext): Promise<{ storage: JobStorage; file?: string; query(sql: string, ...params: unknown[]): Promise<unknown[]> }>;
}

const SQLITE: Backend = {
  name: "SQLite",
  async open(t) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-job-service-"));
    const file = path.join(dir, "berth.db");
    const database = new BerthDatabase(file);
    t.after(() => {
      database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return { storage: sqliteJobStorage(database), file, query: async (sql, ...params) => database.db.prepare(sql).all(...params) };
  },
};

const POSTGRES: Backend = {
  name: "PostgreSQL",
  async open(t) {
    const test = await freshDatabase("job_service");
    const database = await PostgresDatabase.open(test.url);
    t.after(async () => {
      await database.close();
      await test.drop();
    });
    return {
      storage: postgresJobStorage(database),
      query: async (sql, ...params) => [...(await database.sql.unsafe(positional(sql), params as never[]))].map((row) => ({ ...row })),
    };
  },
};

interface Fixture {
  /** The SQLite file, for the tests of SQLite's own group commit. */
  file?: string;
  jobs: JobService;
  /** The store under the service, for what a test queues in bulk. */
  store: JobStorage["jobs"];
  /** The mocked Date.now. */
  now(): number;
  at(ms: number): void;
  advance(ms: number): number;
  row(id: string): Promise<JobRow | undefined>;
  jobRows(): Promise<JobRow[]>;
  workerRows(): Promise<WorkerCallRow[]>;
  snapshot(): Promise<Snapshot>;
  /** Submits a job (one ms after the previous one, so ages are distinct) and answers its id. */
  queued(endpointId: string, submission?: Partial<JobSubmission>, mode?: SubmitMode): Promise<string>;
  /** A job in progress on the worker (taken alone from the endpoint's queue, which must have nothing older). */
  running(endpointId: string, workerId: string, submission?: Partial<JobSubmission>, mode?: SubmitMode): Promise<string>;
  completed(endpointId: string, workerId: string, output?: unknown, mode?: SubmitMode): Promise<string>;
  failed(endpointId: string, workerId: string, error?: unknown): Promise<string>;
  /** The stops waiting for the worker now (no waiting). */
  stops(endpointId: string, workerId: string): Promise<string[]>;
}

/** A fresh database file and JobService for one test, removed after it; Date.now is the fixture's clock. */
async function makeFixture(backend: Backend, t: TestContext, config: Partial<Config> = {}): Promise<Fixture> {
  let clock = T0;
  t.mock.method(Date, "now", () => clock);
  const { storage, file, query } = await backend.open(t);
  const jobs = await JobService.open(storage, { ...CONFIG, ...config });
  t.after(() => jobs.close());
  const columns = JOB_COLUMNS.join(", ");
  let seq = 0;
  const f: Fixture = {
    file,
    jobs,
    store: storage.jobs,
    now: () => clock,
    at: (ms) => {
      clock = ms;
    },
    advance: (ms) => (clock += ms),
    row: async (id) => (await query(`SELECT ${columns} FROM jobs WHERE id = ?`, id))[0] as JobRow | undefined,
    jobRows: async () => (await query(`SELECT ${columns} FROM jobs ORDER BY id`)) as JobRow[],
    workerRows: async () => (await query("SELECT * FROM workers ORDER BY endpoint_id, id")) as WorkerCallRow[],
    snapshot: async () => ({ jobs: await f.jobRows(), workers: await f.workerRows() }),
    async queued(endpointId, submission = {}, mode = "run") {
      clock += 1;
      const job = await jobs.submit(endpointId, { input: { seq: ++seq }, ...submission }, mode);
      return job.id;
    },
    async running(endpointId, workerId, submission, mode) {
      const id = await f.queued(endpointId, submission, mode);
      const taken = await jobs.take(endpointId, workerId, 1, 0);
      assert.deepEqual(
        taken.map((j) => j.id),
        [id],
        "fixture: the endpoint's queue had an older job",
      );
      return id;
    },
    async completed(endpointId, workerId, output = { ok: true }, mode) {
      const id = await f.running(endpointId, workerId, {}, mode);
      await jobs.done(endpointId, workerId, id, { output });
      return id;
    },
    async failed(endpointId, workerId, error = "boom") {
      const id = await f.running(endpointId, workerId);
      await jobs.done(endpointId, workerId, id, { error });
      return id;
    },
    stops: (endpointId, workerId) => jobs.takeStops(endpointId, workerId, 0),
  };
  return f;
}

/**
 * Jobs in every state around the ones a test works on: on ep-a, worker w2's running, completed and failed jobs; on
 * ep-b a completed and a running job of a worker also called w1 (the id the tests give ep-a's worker), and a queued
 * job. ep-a's queue is left empty.
 */
async function background(f: Fixture) {
  const aRunning = await f.running("ep-a", "w2");
  const aDone = await f.completed("ep-a", "w2", { a: 1 });
  const aFailed = await f.failed("ep-a", "w2", "bad input");
  const bDone = await f.completed("ep-b", "w1", { b: 1 });
  const bRunning = await f.running("ep-b", "w1");
  const bQueued = await f.queued("ep-b");
  return { aRunning, aDone, aFailed, bDone, bRunning, bQueued };
}

/** Every job row but `changed` is exactly as in `before` (none added, none removed, no field changed). */
async function assertOthersUnchanged(f: Fixture, before: Snapshot, changed: string[]): Promise<void> {
  const others = (rows: JobRow[]) => rows.filter((r) => !changed.includes(r.id)).map((r) => ({ ...r }));
  assert.deepEqual(others(await f.jobRows()), others(before.jobs), "other jobs changed");
}

async function assertWorkersUnchanged(f: Fixture, before: Snapshot): Promise<void> {
  assert.deepEqual((await f.workerRows()).map((r) => ({ ...r })), before.workers.map((r) => ({ ...r })), "worker rows changed");
}

/** A validator for assert.throws/rejects: the domain error of this class with this code. */
function domainError(kind: typeof NotFoundError | typeof NotAllowedError, code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof kind, `expected ${kind.name}, got ${String(err)}`);
    assert.equal((err as DomainError).code, code);
    return true;
  };
}

/** Lets pending callbacks run (not a wait for time to pass): to show a promise has not settled. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function settledValue<T>(promise: Promise<T>): { value?: T; settled: boolean } {
  const state: { value?: T; settled: boolean } = { settled: false };
  promise.then((value) => Object.assign(state, { value, settled: true }));
  return state;
}

/** Every test of the job service, against one backend. */
function suite(backend: Backend): void {
  const fixture = (t: TestContext, config: Partial<Config> = {}) => makeFixture(backend, t, config);

  describe("JobService.submit", () => {
    test("a run job is stored queued with the queue's defaults and the run retention", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const before = (await f.snapshot());
      f.at(T0 + 1_000);
      const job = await f.jobs.submit("ep-a", { input: { prompt: "hi", n: [1, 2] } }, "run");
      assert.match(job.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const expected = {
        id: job.id,
        endpoint_id: "ep-a",
        status: "IN_QUEUE",
        input: '{"prompt":"hi","n":[1,2]}',
        webhook: null,
        low_priority: 0,
        execution_timeout_ms: 600_000,
        ttl_ms: 86_400_000,
        retention_ms: CONFIG.runRetentionMs,
        created_at: T0 + 1_000,
        started_at: null,
        finished_at: null,
        worker_id: null,
        attempts: 0,
        retries: 0,
        output: null,
        error: null,
        stream_read: 0,
        webhook_attempts: 0,
        webhook_due_at: null,
      };
      assert.deepEqual({ ...job }, expected);
      assert.deepEqual({ ...(await f.row(job.id)) }, expected);
      assert.equal(DEFAULT_EXECUTION_TIMEOUT_MS, 600_000);
      assert.equal(DEFAULT_TTL_MS, 86_400_000);
      f.advance(250);
      assert.deepEqual((await f.jobs.status("ep-a", job.id)), { id: job.id, status: "IN_QUEUE", delayTime: 250, executionTime: 0 });
      await assert.rejects(f.jobs.status("ep-b", job.id), domainError(NotFoundError, "job_not_found"));
      await assertOthersUnchanged(f, before, [job.id]);
      await assertWorkersUnchanged(f, before);
      assert.equal((await f.row(others.bQueued))!.status, "IN_QUEUE");
    });

    test("runsync and runsyncWithWait ids start with sync- and keep their own retention", async (t) => {
      const f = await fixture(t);
      await background(f);
      const before = (await f.snapshot());
      const run = await f.queued("ep-a", {}, "run");
      const sync = await f.queued("ep-a", {}, "runsync");
      const wait = await f.queued("ep-a", {}, "runsyncWithWait");
      assert.doesNotMatch(run, /^sync-/);
      assert.match(sync, /^sync-[0-9a-f-]{36}$/);
      assert.match(wait, /^sync-[0-9a-f-]{36}$/);
      assert.equal((await f.row(run))!.retention_ms, 1_800_000);
      assert.equal((await f.row(sync))!.retention_ms, 60_000);
      assert.equal((await f.row(wait))!.retention_ms, 300_000);
      for (const id of [run, sync, wait]) {
        const row = (await f.row(id))!;
        assert.deepEqual([row.status, row.execution_timeout_ms, row.ttl_ms], ["IN_QUEUE", 600_000, 86_400_000]);
      }
      await assertOthersUnchanged(f, before, [run, sync, wait]);
    });

    test("a client's webhook, lowPriority, executionTimeoutMs and ttlMs are stored as given", async (t) => {
      const f = await fixture(t);
      await background(f);
      const before = (await f.snapshot());
      const id = await f.queued("ep-a", {
        input: "text",
        webhook: "http://hooks.test/done",
        lowPriority: true,
        executionTimeoutMs: 5_000,
        ttlMs: 70_000,
      });
      const row = (await f.row(id))!;
      assert.deepEqual(
        {
          input: row.input,
          webhook: row.webhook,
          low_priority: row.low_priority,
          execution_timeout_ms: row.execution_timeout_ms,
          ttl_ms: row.ttl_ms,
          retention_ms: row.retention_ms,
          status: row.status,
        },
        {
          input: '"text"',
          webhook: "http://hooks.test/done",
          low_priority: 1,
          execution_timeout_ms: 5_000,
          ttl_ms: 70_000,
          retention_ms: CONFIG.runRetentionMs,
          status: "IN_QUEUE",
        },
      );
      const plain = await f.queued("ep-a", { lowPriority: false });
      assert.equal((await f.row(plain))!.low_priority, 0);
      await assertOthersUnchanged(f, before, [id, plain]);
    });
  });

  describe("JobService.take", () => {
    test("hands out the endpoint's oldest queued jobs first, up to the limit, and marks them the worker's", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const j1 = await f.queued("ep-a");
      const j2 = await f.queued("ep-a");
      const j3 = await f.queued("ep-a");
      const before = (await f.snapshot());
      const takenAt = f.advance(1_000);
      const taken = await f.jobs.take("ep-a", "w1", 2, 0);
      assert.deepEqual(
        taken.map((j) => j.id),
        [j1, j2],
      );
      for (const [job, id] of [
        [taken[0]!, j1],
        [taken[1]!, j2],
      ] as const) {
        const was = before.jobs.find((r) => r.id === id)!;
        const expected = { ...was, status: "IN_PROGRESS", worker_id: "w1", started_at: takenAt, attempts: 1 };
        assert.deepEqual({ ...job }, expected);
        assert.deepEqual({ ...(await f.row(id)) }, expected);
      }
      await assertOthersUnchanged(f, before, [j1, j2]);
      assert.equal((await f.row(others.bQueued))!.status, "IN_QUEUE", "another endpoint's queue is not touched");
      assert.deepEqual((await f.jobs.inProgressByWorker("ep-a")), new Map([["w2", 1], ["w1", 2]]));
      assert.deepEqual((await f.jobs.inProgressByWorker("ep-b")), new Map([["w1", 1]]));
      assert.equal((await f.jobs.callingWorker("ep-a", "w1"))!.lastSeenAt, takenAt);

      const rest = await f.jobs.take("ep-a", "w1", 5, 0);
      assert.deepEqual(
        rest.map((j) => j.id),
        [j3],
      );
      assert.deepEqual(await f.jobs.take("ep-a", "w1", 5, 0), []);
      assert.equal((await f.row(others.bQueued))!.status, "IN_QUEUE");
    });

    test("a waiting take is handed a job submitted while it waits", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const waiting = f.jobs.take("ep-a", "w1", 1, 10_000);
      const other = f.jobs.take("ep-c", "w9", 1, 50);
      const id = await f.queued("ep-a");
      assert.deepEqual(
        (await waiting).map((j) => j.id),
        [id],
      );
      assert.deepEqual(await other, [], "a job of ep-a never goes to a take on ep-c");
      assert.equal((await f.row(others.bQueued))!.status, "IN_QUEUE");
    });

    test("every hand-out counts an attempt; a job given back keeps its attempts", async (t) => {
      const f = await fixture(t);
      const id = await f.running("ep-a", "w1");
      assert.equal((await f.row(id))!.attempts, 1);
      assert.equal((await f.jobs.counts("ep-a")).retried, 0);
      await f.jobs.workerGone("ep-a", "w1", "container exited");
      assert.deepEqual([(await f.row(id))!.status, (await f.row(id))!.attempts, (await f.row(id))!.worker_id], ["IN_QUEUE", 1, null]);
      const again = await f.jobs.take("ep-a", "w3", 1, 0);
      assert.deepEqual(
        again.map((j) => [j.id, j.attempts, j.worker_id]),
        [[id, 2, "w3"]],
      );
      assert.equal((await f.jobs.counts("ep-a")).retried, 1, "a job on its second attempt counts as retried");
    });

    test("a held worker gets nothing until released; the same worker id on another endpoint is not held", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      f.jobs.hold("ep-a", "w1");
      const id = await f.queued("ep-a");
      const before = (await f.snapshot());
      assert.deepEqual(await f.jobs.take("ep-a", "w1", 1, 30), []);
      await assertOthersUnchanged(f, before, []);
      assert.deepEqual(
        (await f.jobs.take("ep-b", "w1", 1, 0)).map((j) => j.id),
        [others.bQueued],
        "ep-b's w1 is another worker",
      );
      const waiting = f.jobs.take("ep-a", "w1", 1, 10_000);
      assert.equal((await f.row(id))!.status, "IN_QUEUE");
      f.jobs.release("ep-a", "w1");
      assert.deepEqual(
        (await waiting).map((j) => [j.id, j.worker_id]),
        [[id, "w1"]],
      );
    });

    test("a take whose client went away after the jobs were taken puts them back", async (t) => {
      const f = await fixture(t);
      await background(f);
      const j1 = await f.queued("ep-a");
      const j2 = await f.queued("ep-a");
      const before = (await f.snapshot());
      const gone = new AbortController();
      const runs: JobRun[] = [];
      f.jobs.onRunEnded((run) => runs.push(run));
      // The client leaves while take() is at work: it marks the jobs the worker's, waits for their commit, and only
      // then finds nobody to hand them to.
      const taking = f.jobs.take("ep-a", "w1", 5, 10_000, gone.signal);
      gone.abort();
      assert.deepEqual(await taking, []);
      for (const id of [j1, j2]) {
        const was = before.jobs.find((r) => r.id === id)!;
        // The hand-out that never reached a worker still counts as an attempt (requeue keeps attempts).
        assert.deepEqual({ ...(await f.row(id)) }, { ...was, attempts: 1 });
      }
      await assertOthersUnchanged(f, before, [j1, j2]);
      assert.deepEqual([...runs], [], "no run happened");
      assert.deepEqual(
        (await f.jobs.take("ep-a", "w3", 5, 0)).map((j) => j.id),
        [j1, j2],
      );
    });

    test("a worker that says it runs nothing gets again the jobs it was handed but never received, unchanged", async (t) => {
      const f = await fixture(t);
      await background(f);
      const lost1 = await f.running("ep-a", "w1");
      const lost2 = await f.running("ep-a", "w1");
      const before = await f.snapshot();
      f.advance(5_000);
      // Told it still runs a job: nothing is handed again (and the queue is empty).
      assert.deepEqual(await f.jobs.take("ep-a", "w1", 1, 0, undefined, { runsNothing: false }), []);
      // Told it runs nothing: its two jobs come back, oldest first, as they are (no new attempt, same start).
      const again = await f.jobs.take("ep-a", "w1", 5, 0, undefined, { runsNothing: true });
      assert.deepEqual(again.map((j) => j.id), [lost1, lost2]);
      for (const job of again) assert.deepEqual({ ...job }, before.jobs.find((r) => r.id === job.id));
      assert.deepEqual((await f.snapshot()).jobs, before.jobs, "no row changed");
      // The limit holds, and another worker saying it runs nothing gets none of them.
      assert.deepEqual((await f.jobs.take("ep-a", "w1", 1, 0, undefined, { runsNothing: true })).map((j) => j.id), [lost1]);
      assert.deepEqual(await f.jobs.take("ep-a", "w9", 5, 0, undefined, { runsNothing: true }), []);
    });
  });

  describe("JobService.done", () => {
    test("a final output completes the job", async (t) => {
      const f = await fixture(t);
      await background(f);
      const id = await f.running("ep-a", "w1");
      const before = (await f.snapshot());
      const startedAt = (await f.row(id))!.started_at!;
      const finishedAt = f.advance(500);
      await f.jobs.done("ep-a", "w1", id, { output: { text: "ok" } });
      const was = before.jobs.find((r) => r.id === id)!;
      assert.deepEqual(
        { ...(await f.row(id)) },
        { ...was, status: "COMPLETED", output: '{"text":"ok"}', error: null, finished_at: finishedAt, webhook_due_at: null },
      );
      assert.deepEqual((await f.jobs.status("ep-a", id)), {
        id,
        status: "COMPLETED",
        delayTime: startedAt - was.created_at,
        executionTime: 500,
        workerId: "w1",
        output: { text: "ok" },
      });
      await assertOthersUnchanged(f, before, [id]);
      assert.equal((await f.jobs.callingWorker("ep-a", "w1"))!.lastSeenAt, finishedAt);
      assert.equal((await f.jobs.callingWorker("ep-b", "w1"))!.lastSeenAt, before.workers.find((w) => w.endpoint_id === "ep-b")!.last_seen_at);
    });

    test("a job with a webhook is due for delivery when it ends; one without is not", async (t) => {
      const f = await fixture(t);
      const hooked = await f.running("ep-a", "w1", { webhook: "http://hooks.test/x" });
      const plain = await f.running("ep-a", "w1");
      const at = f.advance(10);
      await f.jobs.done("ep-a", "w1", hooked, { output: 1 });
      await f.jobs.done("ep-a", "w1", plain, { output: 2 });
      assert.equal((await f.row(hooked))!.webhook_due_at, at);
      assert.equal((await f.row(plain))!.webhook_due_at, null);
    });

    test("an error fails the job: a string as given, an object as JSON, output kept alongside", async (t) => {
      const f = await fixture(t);
      await background(f);
      const s = await f.running("ep-a", "w1");
      const o = await f.running("ep-a", "w1");
      const before = (await f.snapshot());
      const at = f.advance(5);
      await f.jobs.done("ep-a", "w1", s, { error: "CUDA out of memory" });
      await f.jobs.done("ep-a", "w1", o, { error: { message: "bad", code: 7 }, output: { partial: true } });
      const was = (id: string) => before.jobs.find((r) => r.id === id)!;
      assert.deepEqual({ ...(await f.row(s)) }, { ...was(s), status: "FAILED", error: "CUDA out of memory", output: null, finished_at: at });
      assert.deepEqual(
        { ...(await f.row(o)) },
        { ...was(o), status: "FAILED", error: '{"message":"bad","code":7}', output: '{"partial":true}', finished_at: at },
      );
      assert.equal((await f.jobs.status("ep-a", s)).error, "CUDA out of memory");
      await assertOthersUnchanged(f, before, [s, o]);
    });

    test("an empty or null error is no error: the job completes", async (t) => {
      const f = await fixture(t);
      const a = await f.running("ep-a", "w1");
      const b = await f.running("ep-a", "w1");
      await f.jobs.done("ep-a", "w1", a, { error: "", output: "x" });
      await f.jobs.done("ep-a", "w1", b, { error: null });
      assert.deepEqual([(await f.row(a))!.status, (await f.row(a))!.error, (await f.row(a))!.output], ["COMPLETED", null, '"x"']);
      assert.deepEqual([(await f.row(b))!.status, (await f.row(b))!.error, (await f.row(b))!.output], ["COMPLETED", null, null]);
    });

    test("an IN_PROGRESS update records progress and keeps the job running", async (t) => {
      const f = await fixture(t);
      await background(f);
      const id = await f.running("ep-a", "w1");
      const before = (await f.snapshot());
      const ended: JobRow[] = [];
      f.jobs.onEnded((job) => ended.push(job));
      await f.jobs.done("ep-a", "w1", id, { status: "IN_PROGRESS", output: { pct: 50 } });
      const was = before.jobs.find((r) => r.id === id)!;
      assert.deepEqual({ ...(await f.row(id)) }, { ...was, output: '{"pct":50}' });
      assert.equal((await f.jobs.status("ep-a", id)).status, "IN_PROGRESS");
      assert.deepEqual((await f.jobs.status("ep-a", id)).output, { pct: 50 });
      await f.jobs.done("ep-a", "w1", id, { status: "IN_PROGRESS" });
      assert.deepEqual({ ...(await f.row(id)) }, { ...was, output: "null" });
      await assertOthersUnchanged(f, before, [id]);
      assert.deepEqual([...ended], []);
      await f.jobs.done("ep-a", "w1", id, { output: { pct: 100 } });
      assert.deepEqual([(await f.row(id))!.status, (await f.row(id))!.output], ["COMPLETED", '{"pct":100}']);
    });

    test("a repeated or late answer changes nothing once the job has ended", async (t) => {
      const f = await fixture(t);
      await background(f);
      const done = await f.completed("ep-a", "w1", { first: true });
      const cancelled = await f.running("ep-a", "w1");
      await f.jobs.cancel("ep-a", cancelled);
      const ended: JobRow[] = [];
      const runs: JobRun[] = [];
      f.jobs.onEnded((job) => ended.push(job));
      f.jobs.onRunEnded((run) => runs.push(run));
      const before = (await f.snapshot());
      f.advance(100);
      await f.jobs.done("ep-a", "w1", done, { output: { second: true } });
      await f.jobs.done("ep-a", "w1", done, { error: "late failure" });
      await f.jobs.done("ep-a", "w1", done, { status: "IN_PROGRESS", output: { pct: 1 } });
      await f.jobs.done("ep-a", "w1", cancelled, { output: "too late" });
      await f.jobs.done("ep-a", "w1", cancelled, { status: "IN_PROGRESS", output: "too late" });
      await assertOthersUnchanged(f, before, []);
      assert.deepEqual([...ended], []);
      assert.deepEqual([...runs], []);
      assert.deepEqual((await f.jobs.status("ep-a", done)).output, { first: true });
    });

    test("an answer for another worker's job changes nothing", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const before = (await f.snapshot());
      await f.jobs.done("ep-a", "w1", others.aRunning, { output: "not mine" });
      await f.jobs.done("ep-a", "w1", others.aRunning, { status: "IN_PROGRESS", output: "not mine" });
      await f.jobs.done("ep-a", "w1", others.aRunning, { error: "not mine" });
      await assertOthersUnchanged(f, before, []);
      assert.deepEqual(
        { ...(await f.row(others.aRunning)) },
        { ...before.jobs.find((r) => r.id === others.aRunning) },
      );
    });

    test("a job of another endpoint is not found, and nothing changes, not even the worker's last call", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      await f.running("ep-a", "w1");
      const before = (await f.snapshot());
      f.advance(1_000);
      for (const body of [{ output: "x" }, { status: "IN_PROGRESS", output: "x" }, { error: "x" }]) {
        await assert.rejects(f.jobs.done("ep-a", "w1", others.bRunning, body), domainError(NotFoundError, "job_not_found"));
        await assert.rejects(f.jobs.done("ep-a", "w1", "no-such-job", body), domainError(NotFoundError, "job_not_found"));
      }
      await assertOthersUnchanged(f, before, []);
      await assertWorkersUnchanged(f, before);
    });

    test("stopPod marks the worker leaving after this job; it no longer counts among the endpoint's workers", async (t) => {
      const f = await fixture(t);
      await background(f);
      const id = await f.running("ep-a", "w1");
      assert.equal((await f.jobs.callingWorker("ep-a", "w1"))!.leaving, false);
      assert.equal((await f.jobs.health("ep-a")).workers.running, 2);
      await f.jobs.done("ep-a", "w1", id, { output: 1, stopPod: true });
      assert.equal((await f.jobs.callingWorker("ep-a", "w1"))!.leaving, true);
      assert.equal((await f.jobs.callingWorker("ep-a", "w2"))!.leaving, false);
      assert.equal((await f.jobs.callingWorker("ep-b", "w1"))!.leaving, false);
      assert.deepEqual((await f.jobs.health("ep-a")).workers, { idle: 0, running: 1, initializing: 0, ready: 0, throttled: 0, unhealthy: 0 });
      // stopPod must be exactly true.
      const other = await f.running("ep-a", "w2");
      await f.jobs.done("ep-a", "w2", other, { output: 1, stopPod: "true" });
      assert.equal((await f.jobs.callingWorker("ep-a", "w2"))!.leaving, false);
    });
  });

  describe("JobService.cancel", () => {
    test("a queued job is cancelled and never handed out", async (t) => {
      const f = await fixture(t);
      await background(f);
      const id = await f.queued("ep-a");
      const before = (await f.snapshot());
      const ended: JobRow[] = [];
      const runs: JobRun[] = [];
      f.jobs.onEnded((job) => ended.push(job));
      f.jobs.onRunEnded((run) => runs.push(run));
      const at = f.advance(20);
      assert.deepEqual(await f.jobs.cancel("ep-a", id), { id, status: "CANCELLED" });
      const was = before.jobs.find((r) => r.id === id)!;
      assert.deepEqual({ ...(await f.row(id)) }, { ...was, status: "CANCELLED", finished_at: at });
      await assertOthersUnchanged(f, before, [id]);
      assert.deepEqual(
        ended.map((j) => ({ ...j })),
        [{ ...(await f.row(id)) }],
      );
      assert.deepEqual([...runs], [], "a queued job had no run");
      assert.deepEqual(await f.jobs.take("ep-a", "w1", 1, 0), []);
    });

    test("a running job is cancelled and its worker is told to stop it, once", async (t) => {
      const f = await fixture(t);
      await background(f);
      const id = await f.running("ep-a", "w1");
      const before = (await f.snapshot());
      const runs: JobRun[] = [];
      f.jobs.onRunEnded((run) => runs.push(run));
      const stopWait = f.jobs.takeStops("ep-a", "w1", 10_000);
      const at = f.advance(300);
      assert.deepEqual(await f.jobs.cancel("ep-a", id), { id, status: "CANCELLED" });
      assert.deepEqual(await stopWait, [id]);
      assert.deepEqual(await f.stops("ep-a", "w1"), [], "told once");
      assert.deepEqual(await f.stops("ep-b", "w1"), [], "ep-b's w1 is another worker");
      assert.deepEqual(await f.stops("ep-a", "w2"), []);
      const was = before.jobs.find((r) => r.id === id)!;
      assert.deepEqual({ ...(await f.row(id)) }, { ...was, status: "CANCELLED", finished_at: at });
      await assertOthersUnchanged(f, before, [id]);
      assert.deepEqual(runs, [{ jobId: id, workerId: "w1", endpointId: "ep-a", startedAt: was.started_at, endedAt: at }]);
    });

    test("an ended job keeps its status; a job of another endpoint is not found", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const before = (await f.snapshot());
      assert.deepEqual(await f.jobs.cancel("ep-a", others.aDone), { id: others.aDone, status: "COMPLETED" });
      assert.deepEqual(await f.jobs.cancel("ep-a", others.aFailed), { id: others.aFailed, status: "FAILED" });
      await assert.rejects(f.jobs.cancel("ep-a", others.bQueued), domainError(NotFoundError, "job_not_found"));
      await assert.rejects(f.jobs.cancel("ep-a", others.bRunning), domainError(NotFoundError, "job_not_found"));
      await assertOthersUnchanged(f, before, []);
      assert.deepEqual(await f.stops("ep-b", "w1"), []);
    });
  });

  describe("JobService.retry", () => {
    test("a FAILED or TIMED_OUT job is queued again, its retries counted and its last run cleared", async (t) => {
      const f = await fixture(t);
      await background(f);
      const failed = await f.failed("ep-a", "w1", "oops");
      const slow = await f.running("ep-a", "w1", { executionTimeoutMs: 1_000, webhook: "http://hooks.test/t" });
      await f.jobs.sweep((await f.row(slow))!.started_at! + 1_000);
      assert.equal((await f.row(slow))!.status, "TIMED_OUT");
      f.jobs.onQueued(() => assert.fail("a retry is not a new submission"));
      const before = (await f.snapshot());
      assert.deepEqual(await f.jobs.retry("ep-a", failed), { id: failed, status: "IN_QUEUE" });
      assert.deepEqual(await f.jobs.retry("ep-a", slow), { id: slow, status: "IN_QUEUE" });
      const cleared = {
        status: "IN_QUEUE",
        worker_id: null,
        started_at: null,
        finished_at: null,
        output: null,
        error: null,
        attempts: 0,
        retries: 1,
        webhook_due_at: null,
        webhook_attempts: 0,
      };
      for (const id of [failed, slow]) {
        assert.deepEqual({ ...(await f.row(id)) }, { ...before.jobs.find((r) => r.id === id)!, ...cleared });
      }
      await assertOthersUnchanged(f, before, [failed, slow]);
      assert.equal((await f.jobs.status("ep-a", failed)).retries, 1);
      assert.equal((await f.jobs.counts("ep-a")).retried, 2);

      // Taken, failed and retried again: retries 2.
      const taken = await f.jobs.take("ep-a", "w1", 1, 0);
      assert.deepEqual(
        taken.map((j) => [j.id, j.attempts]),
        [[failed, 1]],
      );
      await f.jobs.done("ep-a", "w1", failed, { error: "again" });
      await f.jobs.retry("ep-a", failed);
      assert.equal((await f.row(failed))!.retries, 2);
    });

    test("a job that has not failed cannot be retried, and one of another endpoint is not found", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const queued = await f.queued("ep-a");
      const cancelled = await f.queued("ep-a");
      await f.jobs.cancel("ep-a", cancelled);
      const before = (await f.snapshot());
      for (const id of [others.aDone, others.aRunning, queued, cancelled]) {
        await assert.rejects(f.jobs.retry("ep-a", id), domainError(NotAllowedError, "not_retryable"));
      }
      await assert.rejects(f.jobs.retry("ep-b", others.aFailed), domainError(NotFoundError, "job_not_found"));
      await assertOthersUnchanged(f, before, []);
    });
  });

  describe("JobService.purgeQueue", () => {
    test("removes only the endpoint's queued jobs and says how many", async (t) => {
      const f = await fixture(t);
      await background(f);
      const q1 = await f.queued("ep-a");
      const q2 = await f.queued("ep-a", { lowPriority: true });
      const before = (await f.snapshot());
      assert.deepEqual(await f.jobs.purgeQueue("ep-a"), { removed: 2, status: "completed" });
      assert.equal((await f.row(q1)), undefined);
      assert.equal((await f.row(q2)), undefined);
      await assertOthersUnchanged(f, before, [q1, q2]);
      assert.equal((await f.jobRows()).length, before.jobs.length - 2);
      assert.deepEqual(await f.jobs.purgeQueue("ep-a"), { removed: 0, status: "completed" });
      assert.deepEqual(await f.jobs.purgeQueue("ep-nothing"), { removed: 0, status: "completed" });
      await assertOthersUnchanged(f, before, [q1, q2]);
    });
  });

  describe("JobService.sweep", () => {
    test("a running job past its execution timeout is TIMED_OUT and stopped on its worker; others run on", async (t) => {
      const f = await fixture(t);
      await background(f);
      const slow = await f.running("ep-a", "w1", { executionTimeoutMs: 5_000 });
      const queued = await f.queued("ep-a", { executionTimeoutMs: 1 });
      const ended: JobRow[] = [];
      f.jobs.onEnded((job) => ended.push(job));
      const before = (await f.snapshot());
      const startedAt = (await f.row(slow))!.started_at!;

      f.at(startedAt + 4_999);
      await f.jobs.sweep(startedAt + 4_999);
      await assertOthersUnchanged(f, before, []);
      assert.deepEqual([...ended], []);

      f.at(startedAt + 5_000);
      await f.jobs.sweep(startedAt + 5_000);
      const was = before.jobs.find((r) => r.id === slow)!;
      assert.deepEqual(
        { ...(await f.row(slow)) },
        { ...was, status: "TIMED_OUT", error: "execution timeout of 5000 ms exceeded", finished_at: startedAt + 5_000 },
      );
      assert.equal((await f.row(queued))!.status, "IN_QUEUE", "the timeout counts from the start of a run");
      await assertOthersUnchanged(f, before, [slow]);
      assert.deepEqual(await f.stops("ep-a", "w1"), [slow]);
      assert.deepEqual(await f.stops("ep-a", "w2"), []);
      assert.deepEqual(await f.stops("ep-b", "w1"), []);
      assert.deepEqual(
        ended.map((j) => j.id),
        [slow],
      );
      await f.jobs.sweep(startedAt + 6_000);
      assert.equal(ended.length, 1, "ended once");
    });

    test("ten thousand jobs expiring at once go 10,000 a sweep, the rest at the next, counts kept", async (t) => {
      const f = await fixture(t);
      const total = 10_500;
      for (let done = 0; done < total; done += 2_500) {
        await f.store.insert(
          Array.from({ length: Math.min(2_500, total - done) }, (_, i) => ({
            id: `bulk-${done + i}`,
            endpointId: "ep-c",
            input: "{}",
            webhook: null,
            lowPriority: false,
            executionTimeoutMs: 60_000,
            ttlMs: 1_000,
            retentionMs: 60_000,
            createdAt: T0 + done + i,
          })),
        );
      }
      assert.equal((await f.jobs.counts("ep-c")).inQueue, total);
      f.at(T0 + total + 1_000);
      await f.jobs.sweep(f.now());
      assert.equal((await f.jobs.counts("ep-c")).inQueue, 500, "one sweep removes 10 batches of 1,000");
      assert.equal((await f.jobRows()).filter((r) => r.endpoint_id === "ep-c").length, 500);
      await f.jobs.sweep(f.now());
      assert.equal((await f.jobs.counts("ep-c")).inQueue, 0);
      assert.equal((await f.jobRows()).filter((r) => r.endpoint_id === "ep-c").length, 0);
    });

    test("a job past its ttl is removed, queued or running (its worker told to stop); one within it stays", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const running = await f.running("ep-a", "w1", { ttlMs: 10_000 });
      const queued = await f.queued("ep-a", { ttlMs: 10_000 });
      const longer = await f.queued("ep-a", { ttlMs: 20_000 });
      const before = (await f.snapshot());
      const r = (await f.row(running))!.created_at;
      const q = (await f.row(queued))!.created_at;
      assert.ok(r < q);

      await f.jobs.sweep(r + 9_999);
      await assertOthersUnchanged(f, before, []);
      await f.jobs.sweep(r + 10_000);
      assert.equal((await f.row(running)), undefined);
      assert.equal((await f.row(queued))!.status, "IN_QUEUE", "its ttl runs from its own creation");
      assert.deepEqual(await f.stops("ep-a", "w1"), [running]);
      await f.jobs.sweep(q + 10_000);
      assert.equal((await f.row(queued)), undefined);
      await assert.rejects(f.jobs.status("ep-a", queued), domainError(NotFoundError, "job_not_found"));
      await assert.rejects(f.jobs.status("ep-a", running), domainError(NotFoundError, "job_not_found"));
      assert.deepEqual(await f.stops("ep-a", "w1"), [], "told once");
      assert.deepEqual(await f.stops("ep-a", "w2"), []);
      assert.equal((await f.row(longer))!.status, "IN_QUEUE");
      await assertOthersUnchanged(f, before, [queued, running]);
      assert.equal((await f.row(others.aDone))!.status, "COMPLETED", "an ended job's ttl no longer applies");
    });

    test("an ended job is removed once its retention, chosen by how it was submitted, has passed", async (t) => {
      const f = await fixture(t, { runRetentionMs: 4_000, runsyncRetentionMs: 2_000, runsyncWaitRetentionMs: 3_000 });
      const bRunning = await f.running("ep-b", "w1");
      f.at(T0 + 1_000);
      const run = await f.running("ep-a", "w1", {}, "run");
      const sync = await f.running("ep-a", "w1", {}, "runsync");
      const wait = await f.running("ep-a", "w1", {}, "runsyncWithWait");
      const failedRun = await f.running("ep-a", "w1", {}, "run");
      const late = await f.running("ep-a", "w1", {}, "run");
      const queued = await f.queued("ep-a");
      const cancelledSync = await f.queued("ep-c", {}, "runsync");
      const F = f.advance(100);
      await f.jobs.done("ep-a", "w1", run, { output: 1 });
      await f.jobs.done("ep-a", "w1", sync, { output: 2 });
      await f.jobs.done("ep-a", "w1", wait, { output: 3 });
      await f.jobs.done("ep-a", "w1", failedRun, { error: "x" });
      await f.jobs.cancel("ep-c", cancelledSync);
      f.at(F + 1_500);
      await f.jobs.done("ep-a", "w1", late, { output: 4 });
      const before = (await f.snapshot());
      const present = async () => (await f.jobRows()).map((r) => r.id);
      const all = [queued, bRunning, run, sync, wait, failedRun, cancelledSync, late];
      const without = (...gone: string[]) => all.filter((id) => !gone.includes(id)).sort();

      await f.jobs.sweep(F + 1_999);
      assert.deepEqual(await present(), without());
      await f.jobs.sweep(F + 2_000);
      assert.deepEqual(await present(), without(sync, cancelledSync));
      await f.jobs.sweep(F + 2_999);
      assert.deepEqual(await present(), without(sync, cancelledSync));
      await f.jobs.sweep(F + 3_000);
      assert.deepEqual(await present(), without(sync, cancelledSync, wait));
      await f.jobs.sweep(F + 3_999);
      assert.deepEqual(await present(), without(sync, cancelledSync, wait));
      await f.jobs.sweep(F + 4_000);
      assert.deepEqual(await present(), without(sync, cancelledSync, wait, run, failedRun));
      await assertOthersUnchanged(f, before, [sync, cancelledSync, wait, run, failedRun]);
      await f.jobs.sweep(F + 5_500);
      assert.deepEqual(await present(), [queued, bRunning].sort());
      await assertOthersUnchanged(f, before, [sync, cancelledSync, wait, run, failedRun, late]);
      await assertWorkersUnchanged(f, before);
    });

    test("a silent worker's jobs go back to the queue and the worker is forgotten; workers that call stay", async (t) => {
      const f = await fixture(t);
      const mine = await f.running("ep-a", "w1");
      const mine2 = await f.running("ep-a", "w1");
      const theirs = await f.running("ep-a", "w2");
      const bRunning = await f.running("ep-b", "w1");
      const queued = await f.queued("ep-a");
      const S = (await f.row(mine2))!.started_at!;
      const runs: JobRun[] = [];
      const ended: JobRow[] = [];
      f.jobs.onRunEnded((run) => runs.push(run));
      f.jobs.onEnded((job) => ended.push(job));
      // w2 and ep-b's w1 keep calling; ep-a's w1 (last call at S) goes silent.
      f.at(S + 30_000);
      await f.jobs.ping("ep-a", "w2", { jobIds: [theirs] });
      await f.jobs.ping("ep-b", "w1", { jobIds: [bRunning] });
      const before = (await f.snapshot());
      const w1LastSeen = (await f.jobs.lastSeen("ep-a")).get("w1");
      assert.equal(w1LastSeen, S);

      f.at(S + 45_000);
      await f.jobs.sweep(S + 45_000);
      await assertOthersUnchanged(f, before, []);
      await assertWorkersUnchanged(f, before);

      f.at(S + 45_001);
      await f.jobs.sweep(S + 45_001);
      for (const id of [mine, mine2]) {
        const was = before.jobs.find((r) => r.id === id)!;
        assert.deepEqual({ ...(await f.row(id)) }, { ...was, status: "IN_QUEUE", worker_id: null, started_at: null, attempts: 1 });
      }
      await assertOthersUnchanged(f, before, [mine, mine2]);
      assert.equal((await f.row(queued))!.status, "IN_QUEUE");
      assert.equal((await f.jobs.callingWorker("ep-a", "w1")), undefined);
      assert.deepEqual((await f.jobs.lastSeen("ep-a")), new Map([["w2", S + 30_000]]));
      assert.deepEqual((await f.jobs.lastSeen("ep-b")), new Map([["w1", S + 30_000]]));
      assert.deepEqual(
        (await f.workerRows()).map((w) => [w.endpoint_id, w.id]),
        [
          ["ep-a", "w2"],
          ["ep-b", "w1"],
        ],
      );
      assert.deepEqual(
        runs.sort((a, b) => a.jobId.localeCompare(b.jobId)),
        [mine, mine2].sort().map((jobId) => ({
          jobId,
          workerId: "w1",
          endpointId: "ep-a",
          startedAt: before.jobs.find((r) => r.id === jobId)!.started_at,
          endedAt: S + 45_001,
        })),
      );
      assert.deepEqual([...ended], []);
      // The oldest queued job goes out first again.
      assert.deepEqual(
        (await f.jobs.take("ep-a", "w3", 5, 0)).map((j) => j.id),
        [mine, mine2, queued],
      );
    });

    test("a job whose worker is lost on its last attempt FAILS with the reason", async (t) => {
      const f = await fixture(t, { maxAttempts: 2 });
      const id = await f.running("ep-a", "w1");
      const bRunning = await f.running("ep-b", "w1");
      const ended: JobRow[] = [];
      const runs: JobRun[] = [];
      f.jobs.onEnded((job) => ended.push(job));
      f.jobs.onRunEnded((run) => runs.push(run));
      const firstStart = (await f.row(id))!.started_at!;

      // Attempt 1: w1 goes silent; ep-b's w1 keeps calling.
      let now = firstStart + 45_001;
      f.at(now);
      await f.jobs.ping("ep-b", "w1", { jobIds: [bRunning] });
      await f.jobs.sweep(now);
      assert.deepEqual([(await f.row(id))!.status, (await f.row(id))!.attempts], ["IN_QUEUE", 1]);

      // Attempt 2 on w3, which goes silent too: out of attempts.
      assert.deepEqual(
        (await f.jobs.take("ep-a", "w3", 1, 0)).map((j) => j.id),
        [id],
      );
      const secondStart = now;
      const before = (await f.snapshot());
      now += 45_001;
      f.at(now);
      await f.jobs.ping("ep-b", "w1", { jobIds: [bRunning] });
      await f.jobs.sweep(now);
      const was = before.jobs.find((r) => r.id === id)!;
      const failed = {
        ...was,
        status: "FAILED",
        finished_at: now,
        error: "worker w3 lost: no call for over 45000 ms; gave up after 2 attempts",
      };
      assert.deepEqual({ ...(await f.row(id)) }, failed);
      assert.equal((await f.jobs.status("ep-a", id)).error, failed.error);
      assert.deepEqual(
        ended.map((j) => ({ ...j })),
        [failed],
      );
      assert.deepEqual(runs, [
        { jobId: id, workerId: "w1", endpointId: "ep-a", startedAt: firstStart, endedAt: firstStart + 45_001 },
        { jobId: id, workerId: "w3", endpointId: "ep-a", startedAt: secondStart, endedAt: now },
      ]);
      assert.equal((await f.row(bRunning))!.status, "IN_PROGRESS");
      assert.equal((await f.row(bRunning))!.attempts, 1);
    });

    test("a worker that reports itself unhealthy gives its jobs back and is marked unhealthy", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const j1 = await f.queued("ep-a");
      const j2 = await f.queued("ep-a");
      assert.equal((await f.jobs.take("ep-a", "w1", 2, 0)).length, 2);
      const before = (await f.snapshot());
      const at = f.advance(10);
      await f.jobs.ping("ep-a", "w1", { jobIds: [j1, j2], sdkVersion: "1.7.9", unhealthy: { check: "gpu", reason: "xid 79" } });
      for (const id of [j1, j2]) {
        const was = before.jobs.find((r) => r.id === id)!;
        assert.deepEqual({ ...(await f.row(id)) }, { ...was, status: "IN_QUEUE", worker_id: null, started_at: null });
      }
      await assertOthersUnchanged(f, before, [j1, j2]);
      assert.equal((await f.row(others.aRunning))!.status, "IN_PROGRESS");
      assert.deepEqual((await f.jobs.callingWorker("ep-a", "w1")), {
        id: "w1",
        firstSeenAt: before.workers.find((w) => w.endpoint_id === "ep-a" && w.id === "w1")!.first_seen_at,
        lastSeenAt: at,
        sdkVersion: "1.7.9",
        unhealthyReason: "worker reported unhealthy (gpu): xid 79",
        leaving: false,
      });
      assert.equal((await f.jobs.callingWorker("ep-b", "w1"))!.unhealthyReason, undefined);
      assert.deepEqual((await f.jobs.health("ep-a")).workers, { idle: 0, running: 1, initializing: 0, ready: 0, throttled: 0, unhealthy: 1 });
      await f.jobs.ping("ep-a", "w2", { jobIds: [others.aRunning], unhealthy: {} });
      assert.equal((await f.jobs.callingWorker("ep-a", "w2"))!.unhealthyReason, "worker reported unhealthy");
      assert.equal((await f.row(others.aRunning))!.status, "IN_QUEUE");
    });
  });

  describe("JobService counts", () => {
    /** What counts() must answer, counted from the rows themselves. */
    const counted = async (f: Fixture, endpointId: string) => {
      const rows = (await f.jobRows()).filter((r) => r.endpoint_id === endpointId);
      const n = (status: string) => rows.filter((r) => r.status === status).length;
      return {
        completed: n("COMPLETED"),
        failed: n("FAILED"),
        inProgress: n("IN_PROGRESS"),
        inQueue: n("IN_QUEUE"),
        retried: rows.filter((r) => r.retries > 0 || r.attempts > 1).length,
      };
    };
    const agree = async (f: Fixture, step: string) => {
      for (const endpointId of ["ep-a", "ep-b"]) {
        assert.deepEqual(await f.jobs.counts(endpointId), await counted(f, endpointId), `${endpointId} after ${step}`);
      }
    };

    test("the counts kept as jobs change equal counting the rows, through every kind of change", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      await agree(f, "submit, take, done and fail");
      const queued = await f.queued("ep-a");
      await f.queued("ep-a");
      await f.jobs.cancel("ep-a", queued);
      await f.jobs.cancel("ep-b", others.bRunning);
      await agree(f, "cancels");
      await f.jobs.retry("ep-a", others.aFailed);
      await agree(f, "a retry");
      await f.jobs.purgeQueue("ep-b");
      await agree(f, "a purge");
      await f.running("ep-b", "w9");
      await f.jobs.workerGone("ep-b", "w9", "gone");
      await agree(f, "a lost worker's job requeued");
      await f.jobs.sweep(f.advance(2 * CONFIG.runRetentionMs));
      await agree(f, "a sweep past every retention window");
      await f.queued("ep-a");
      await f.jobs.removeEndpoint("ep-a");
      await agree(f, "an endpoint removed");
      await f.jobs.sweep(f.now());
      await agree(f, "another sweep");
    });
  });

  describe("JobService.removeEndpoint", () => {
    test("the endpoint's jobs and workers go, its running jobs are stopped and its long-polls answer; another endpoint's stay", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const running = await f.running("ep-a", "w1");
      const queued = await f.queued("ep-a");
      await f.jobs.take("ep-a", "w3", 1, 0);
      const waiting = f.jobs.take("ep-a", "w4", 1, 60_000);
      const statusWait = f.jobs.waitForEnd("ep-b", others.bRunning, 50);
      const before = (await f.snapshot());
      const epA = (rows: Array<{ endpoint_id: string }>) => rows.filter((r) => r.endpoint_id === "ep-a");
      assert.equal(epA(before.jobs).length, 5);
      assert.equal(epA(before.workers).length, 4);

      await f.jobs.removeEndpoint("ep-a");
      assert.deepEqual(await waiting, []);
      assert.deepEqual(epA((await f.jobRows())), []);
      assert.deepEqual(epA((await f.workerRows())), []);
      const epB = before.jobs.filter((r) => r.endpoint_id === "ep-b").map((r) => ({ ...r }));
      assert.deepEqual(
        (await f.jobRows()).map((r) => ({ ...r })),
        epB,
      );
      assert.deepEqual(
        (await f.workerRows()).map((r) => ({ ...r })),
        before.workers.filter((w) => w.endpoint_id === "ep-b").map((r) => ({ ...r })),
      );
      assert.deepEqual(await f.stops("ep-a", "w1"), [running]);
      assert.deepEqual(await f.stops("ep-a", "w2"), [others.aRunning]);
      assert.deepEqual(await f.stops("ep-b", "w1"), []);
      await assert.rejects(f.jobs.status("ep-a", queued), domainError(NotFoundError, "job_not_found"));
      assert.deepEqual((await f.jobs.counts("ep-a")), { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 });
      assert.equal((await statusWait).status, "IN_PROGRESS");
      assert.deepEqual(
        (await f.jobs.take("ep-b", "w1", 5, 0)).map((j) => j.id),
        [others.bQueued],
      );
    });
  });

  describe("JobService.workerGone", () => {
    test("the worker's jobs go back to the queue now and it is forgotten; the same id on another endpoint is not", async (t) => {
      const f = await fixture(t);
      const others = await background(f);
      const id = await f.running("ep-a", "w1");
      f.jobs.hold("ep-a", "w1");
      const runs: JobRun[] = [];
      const ended: JobRow[] = [];
      f.jobs.onRunEnded((run) => runs.push(run));
      f.jobs.onEnded((job) => ended.push(job));
      const before = (await f.snapshot());
      const at = f.advance(700);
      await f.jobs.workerGone("ep-a", "w1", "container exited (137)");
      const was = before.jobs.find((r) => r.id === id)!;
      assert.deepEqual({ ...(await f.row(id)) }, { ...was, status: "IN_QUEUE", worker_id: null, started_at: null });
      await assertOthersUnchanged(f, before, [id]);
      assert.equal((await f.jobs.callingWorker("ep-a", "w1")), undefined);
      assert.deepEqual(
        (await f.workerRows()).map((r) => ({ ...r })),
        before.workers.filter((w) => !(w.endpoint_id === "ep-a" && w.id === "w1")).map((r) => ({ ...r })),
      );
      assert.deepEqual(runs, [{ jobId: id, workerId: "w1", endpointId: "ep-a", startedAt: was.started_at, endedAt: at }]);
      assert.deepEqual([...ended], []);
      assert.equal((await f.row(others.bRunning))!.status, "IN_PROGRESS");
      // Its hold went with it: a worker of that id calling again takes work.
      assert.deepEqual(
        (await f.jobs.take("ep-a", "w1", 1, 0)).map((j) => [j.id, j.attempts]),
        [[id, 2]],
      );
    });

    test("a job out of attempts FAILS with the runtime's reason", async (t) => {
      const f = await fixture(t, { maxAttempts: 1 });
      const id = await f.running("ep-a", "w1");
      const at = f.advance(5);
      await f.jobs.workerGone("ep-a", "w1", "container exited (137)");
      assert.deepEqual(
        [(await f.row(id))!.status, (await f.row(id))!.error, (await f.row(id))!.finished_at],
        ["FAILED", "container exited (137); gave up after 1 attempts", at],
      );
    });
  });

  describe("JobService.firstCallAfter", () => {
    test("resolves with the worker's first call at or after `since`, not an earlier one nor another endpoint's", async (t) => {
      const f = await fixture(t);
      const since = T0 + 100;
      const first = settledValue(f.jobs.firstCallAfter("ep-a", "w1", since));
      f.at(T0 + 50);
      await f.jobs.ping("ep-a", "w1", { jobIds: [] });
      f.at(T0 + 100);
      await f.jobs.ping("ep-b", "w1", { jobIds: [] });
      await flush();
      assert.equal(first.settled, false);
      f.at(T0 + 120);
      assert.deepEqual(await f.jobs.take("ep-a", "w1", 1, 0), []);
      await flush();
      assert.deepEqual(first, { settled: true, value: T0 + 120 });
    });

    test("a worker that already called since resolves at once", async (t) => {
      const f = await fixture(t);
      f.at(T0 + 10);
      await f.jobs.ping("ep-a", "w1", { jobIds: [] });
      f.at(T0 + 200);
      await f.jobs.ping("ep-a", "w1", { jobIds: [] });
      assert.equal(await f.jobs.firstCallAfter("ep-a", "w1", T0 + 5), T0 + 10, "its first call came after since");
      assert.equal(await f.jobs.firstCallAfter("ep-a", "w1", T0 + 10), T0 + 10);
      assert.equal(await f.jobs.firstCallAfter("ep-a", "w1", T0 + 100), T0 + 200, "only its latest call is known after since");
      const later = settledValue(f.jobs.firstCallAfter("ep-a", "w1", T0 + 201));
      await flush();
      assert.equal(later.settled, false);
      f.at(T0 + 300);
      await f.jobs.takeStops("ep-a", "w1", 0);
      await flush();
      assert.deepEqual(later, { settled: true, value: T0 + 300 });
    });
  });

  describe("JobService listeners", () => {
    test("onQueued, onEnded and onRunEnded are told once each, with the right values", async (t) => {
      const f = await fixture(t);
      const queued: string[] = [];
      const ended: JobRow[] = [];
      const runs: JobRun[] = [];
      f.jobs.onQueued((endpointId) => queued.push(endpointId));
      f.jobs.onEnded((job) => ended.push({ ...job }));
      f.jobs.onRunEnded((run) => runs.push(run));

      const done = await f.running("ep-a", "w1");
      const cancelledQueued = await f.queued("ep-b");
      const cancelledRunning = await f.running("ep-a", "w2");
      assert.deepEqual(queued, ["ep-a", "ep-b", "ep-a"]);
      assert.deepEqual([...ended], []);
      assert.deepEqual([...runs], []);

      f.advance(40);
      await f.jobs.done("ep-a", "w1", done, { status: "IN_PROGRESS", output: 1 });
      assert.deepEqual([...ended], [], "progress is not an end");
      await f.jobs.done("ep-a", "w1", done, { output: 2 });
      await f.jobs.done("ep-a", "w1", done, { output: 3 });
      await f.jobs.cancel("ep-b", cancelledQueued);
      await f.jobs.cancel("ep-b", cancelledQueued);
      await f.jobs.cancel("ep-a", cancelledRunning);
      await f.jobs.cancel("ep-a", cancelledRunning);

      assert.deepEqual(ended, [{ ...(await f.row(done)) }, { ...(await f.row(cancelledQueued)) }, { ...(await f.row(cancelledRunning)) }]);
      assert.deepEqual(
        ended.map((j) => j.status),
        ["COMPLETED", "CANCELLED", "CANCELLED"],
      );
      assert.deepEqual(runs, [
        { jobId: done, workerId: "w1", endpointId: "ep-a", startedAt: (await f.row(done))!.started_at, endedAt: (await f.row(done))!.finished_at },
        {
          jobId: cancelledRunning,
          workerId: "w2",
          endpointId: "ep-a",
          startedAt: (await f.row(cancelledRunning))!.started_at,
          endedAt: (await f.row(cancelledRunning))!.finished_at,
        },
      ]);
      assert.deepEqual(queued, ["ep-a", "ep-b", "ep-a"], "nothing else was queued");
    });
  });

  describe("JobService reads", () => {
    test("counts, queueStats, recentJobs and health read one endpoint only", async (t) => {
      const f = await fixture(t);
      await background(f);
      const running = await f.running("ep-a", "w1");
      const q1 = await f.queued("ep-a");
      const low = await f.queued("ep-a", { lowPriority: true });
      const q2 = await f.queued("ep-a");
      assert.deepEqual((await f.jobs.counts("ep-a")), { completed: 1, failed: 1, inProgress: 2, inQueue: 3, retried: 0 });
      assert.deepEqual((await f.jobs.counts("ep-b")), { completed: 1, failed: 0, inProgress: 1, inQueue: 1, retried: 0 });
      assert.deepEqual((await f.jobs.counts("ep-none")), { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 });

      const c1 = (await f.row(q1))!.created_at;
      assert.deepEqual((await f.jobs.queueStats("ep-a", c1 - 1, 100)), { queued: 2, delayed: 0, inProgress: 2 });
      assert.deepEqual((await f.jobs.queueStats("ep-a", c1, 100)), { queued: 2, delayed: 1, inProgress: 2 });
      assert.deepEqual((await f.jobs.queueStats("ep-a", (await f.row(q2))!.created_at, 100)), { queued: 2, delayed: 2, inProgress: 2 });
      assert.deepEqual((await f.jobs.queueStats("ep-a", f.now(), 1)), { queued: 1, delayed: 1, inProgress: 2 }, "counted up to the cap");
      assert.deepEqual((await f.jobs.queueStats("ep-none", f.now(), 100)), { queued: 0, delayed: 0, inProgress: 0 });

      const rows = new Map((await f.jobRows()).map((r) => [r.id, r]));
      const row = (id: string) => rows.get(id)!;
      assert.deepEqual(await f.jobs.recentJobs("ep-a", 4), [
        { id: q2, status: "IN_QUEUE", workerId: undefined, createdAt: row(q2).created_at, startedAt: undefined, finishedAt: undefined },
        { id: low, status: "IN_QUEUE", workerId: undefined, createdAt: row(low).created_at, startedAt: undefined, finishedAt: undefined },
        { id: q1, status: "IN_QUEUE", workerId: undefined, createdAt: row(q1).created_at, startedAt: undefined, finishedAt: undefined },
        {
          id: running,
          status: "IN_PROGRESS",
          workerId: "w1",
          createdAt: row(running).created_at,
          startedAt: row(running).started_at!,
          finishedAt: undefined,
        },
      ]);
      assert.equal((await f.jobs.recentJobs("ep-a", 100)).length, 7);
      assert.ok((await f.jobs.recentJobs("ep-b", 100)).every((j) => row(j.id).endpoint_id === "ep-b"));

      await f.jobs.ping("ep-a", "w5", { jobIds: [] });
      assert.deepEqual((await f.jobs.health("ep-a")), {
        jobs: { completed: 1, failed: 1, inProgress: 2, inQueue: 3, retried: 0 },
        workers: { idle: 1, running: 2, initializing: 0, ready: 1, throttled: 0, unhealthy: 0 },
      });
      assert.deepEqual((await f.jobs.health("ep-a", new Set(["w5"]))).workers.idle, 0, "a runtime's own workers are left out");
      assert.deepEqual((await f.jobs.health("ep-a", new Set(), f.now() + 45_001)).workers, {
        idle: 0,
        running: 0,
        initializing: 0,
        ready: 0,
        throttled: 0,
        unhealthy: 0,
      });
      assert.deepEqual(
        (await f.jobs.callingWorkers("ep-a")).map((w) => w.id).sort(),
        ["w1", "w2", "w5"],
      );
    });
  });
}

for (const backend of [SQLITE, POSTGRES]) describe(`JobService on ${backend.name}`, () => suite(backend));

describe("JobService on SQLite: group commit", () => {
  test("resolves only once the job is committed: another connection sees it then, not before", async (t) => {
    const f = await makeFixture(SQLITE, t);
    const reader = new Database(f.file, { readonly: true });
    t.after(() => reader.close());
    const count = () => (reader.prepare("SELECT COUNT(*) AS n FROM jobs").get() as { n: number }).n;
    const seenByListener: number[] = [];
    f.jobs.onQueued(() => seenByListener.push(count()));
    const pending = f.jobs.submit("ep-a", { input: 1 }, "run");
    assert.equal(count(), 0, "visible to another connection before the group commit");
    const job = await pending;
    assert.equal(count(), 1);
    assert.deepEqual(
      { ...(reader.prepare("SELECT * FROM jobs WHERE id = ?").get(job.id) as JobRow) },
      { ...(await f.row(job.id)) },
    );
    assert.deepEqual(seenByListener, [1], "onQueued is told after the commit");
  });
});
