/**
 * Schema migrations, applied in order and never edited once released: append a new entry instead.
 * Times are milliseconds since the epoch; JSON documents are stored as text.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id                   TEXT PRIMARY KEY,
    endpoint_id          TEXT NOT NULL,
    status               TEXT NOT NULL,
    input                TEXT NOT NULL,
    webhook              TEXT,
    low_priority         INTEGER NOT NULL DEFAULT 0,
    execution_timeout_ms INTEGER NOT NULL,
    ttl_ms               INTEGER NOT NULL,
    retention_ms         INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    started_at           INTEGER,
    finished_at          INTEGER,
    worker_id            TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    retries              INTEGER NOT NULL DEFAULT 0,
    output               TEXT,
    error                TEXT,
    stream_read          INTEGER NOT NULL DEFAULT 0,
    webhook_attempts     INTEGER NOT NULL DEFAULT 0,
    webhook_due_at       INTEGER
  );
  CREATE INDEX jobs_queue ON jobs (endpoint_id, status, created_at);
  CREATE INDEX jobs_worker ON jobs (worker_id) WHERE status = 'IN_PROGRESS';
  CREATE INDEX jobs_webhook_due ON jobs (webhook_due_at) WHERE webhook_due_at IS NOT NULL;

  CREATE TABLE job_stream (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    output TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
  );

  CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    endpoint_id  TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    sdk_version  TEXT,
    unhealthy_reason TEXT,
    leaving      INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX workers_endpoint ON workers (endpoint_id);

  -- Admin resources keep their validated spec as one JSON document, so adding a field needs no migration.
  CREATE TABLE templates (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE network_volumes (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE endpoints (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  -- What workers of each revision run: the endpoint spec and its template's spec as they were then.
  CREATE TABLE endpoint_revisions (
    endpoint_id   TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    revision      INTEGER NOT NULL,
    spec          TEXT NOT NULL,
    template_spec TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, revision)
  );
  `,
  // The sweeper runs every second: its deadlines are indexed expressions, so a sweep reads only the jobs that are
  // due instead of scanning every retained job. /health counts retried jobs from a small partial index.
  `
  CREATE INDEX jobs_execution_deadline ON jobs (started_at + execution_timeout_ms) WHERE status = 'IN_PROGRESS';
  CREATE INDEX jobs_ttl_deadline ON jobs (created_at + ttl_ms) WHERE status IN ('IN_QUEUE', 'IN_PROGRESS');
  CREATE INDEX jobs_retention_deadline ON jobs (finished_at + retention_ms);
  CREATE INDEX jobs_retried ON jobs (endpoint_id) WHERE retries > 0 OR attempts > 1;
  `,
  // Workers the control plane runs itself on a runtime (Docker, Kubernetes), as opposed to workers it only hears
  // from. The id is the worker's RUNPOD_POD_ID and the runtime's name for it, so a restarted control plane can
  // match what the runtime reports to what it decided.
  `
  CREATE TABLE runtime_workers (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL,
    revision        INTEGER NOT NULL,
    type            TEXT NOT NULL,
    phase           TEXT NOT NULL,
    gpu_ids         TEXT NOT NULL,
    gpu_type_id     TEXT,
    gpu_simulated   INTEGER NOT NULL DEFAULT 0,
    memory_bytes    INTEGER,
    reason          TEXT,
    restarts        INTEGER NOT NULL DEFAULT 0,
    next_restart_at INTEGER,
    unhealthy_since INTEGER,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    phase_since     INTEGER NOT NULL
  );
  CREATE INDEX runtime_workers_endpoint ON runtime_workers (endpoint_id);
  `,
  // Usage metering: one row per run of a job on a worker (a retried job has one per attempt), kept after the job
  // itself expires, with what the worker was then (its type and GPUs), which is what a run is priced by. One index
  // only, for reports by time: a row is written per job, and a second index cost 17% of dispatch throughput.
  `
  CREATE TABLE usage_runs (
    job_id      TEXT NOT NULL,
    worker_id   TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    worker_type TEXT NOT NULL,
    gpu_type_id TEXT,
    gpu_count   INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER NOT NULL
  );
  CREATE INDEX usage_runs_ended ON usage_runs (ended_at);
  `,
  // A worker is known by its id within its endpoint: two endpoints may each have a worker "gpu-box-1", and a call on
  // one endpoint's worker API can never reach (or move) the other's. SQLite cannot change a primary key in place.
  `
  CREATE TABLE workers_by_endpoint (
    endpoint_id      TEXT NOT NULL,
    id               TEXT NOT NULL,
    first_seen_at    INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    sdk_version      TEXT,
    unhealthy_reason TEXT,
    leaving          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, id)
  );
  INSERT INTO workers_by_endpoint (endpoint_id, id, first_seen_at, last_seen_at, sdk_version, unhealthy_reason, leaving)
    SELECT endpoint_id, id, first_seen_at, last_seen_at, sdk_version, unhealthy_reason, leaving FROM workers;
  DROP TABLE workers;
  ALTER TABLE workers_by_endpoint RENAME TO workers;
  `,
  // Jobs by endpoint and status, kept by triggers in the transaction that changes a job: /health, metrics and the
  // overview read a few rows instead of counting every queued and retained job (65 ms a call with a million).
  `
  CREATE TABLE job_counts (
    endpoint_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, status)
  ) WITHOUT ROWID;
  INSERT INTO job_counts (endpoint_id, status, n) SELECT endpoint_id, status, COUNT(*) FROM jobs GROUP BY endpoint_id, status;
  CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (endpoint_id, status, n) VALUES (NEW.endpoint_id, NEW.status, 1)
      ON CONFLICT (endpoint_id, status) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER job_counts_update AFTER UPDATE OF status ON jobs WHEN OLD.status <> NEW.status BEGIN
    UPDATE job_counts SET n = n - 1 WHERE endpoint_id = OLD.endpoint_id AND status = OLD.status;
    INSERT INTO job_counts (endpoint_id, status, n) VALUES (NEW.endpoint_id, NEW.status, 1)
      ON CONFLICT (endpoint_id, status) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE endpoint_id = OLD.endpoint_id AND status = OLD.status;
  END;
  `,
  // API keys with scopes (server/api-keys.ts): the secret's SHA-256 only; endpoint ids a JSON array.
  `
  CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    endpoint_ids TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
  );
  `,
  // The audit log of admin writes (server/audit.ts): who, what, when, the thing before and after, secrets masked.
  `
  CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    key_id      TEXT NOT NULL,
    key_name    TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT,
    before      TEXT,
    after       TEXT
  );
  CREATE INDEX audit_log_target ON audit_log (target_id, seq);
  `,
  // A job's timeline (server/jobs/timeline.ts). Each run of a job on a worker gets a row when it ends (result, timeout,
  // cancel, given back or given up), written by the statement's transaction that ends it; the run in progress is
  // the job row itself, so a take writes nothing more. Keyed by the job's retry and attempt counters, which each end
  // leaves as they were: no read of earlier rows to number a new one. Progress updates, which overwrote the job's
  // output, are kept each with its time, and so are stream chunks (the rows from before have none).
  `
  CREATE TABLE job_attempts (
    job_id    TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    retry     INTEGER NOT NULL,
    attempt   INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    taken_at  INTEGER NOT NULL,
    ended_at  INTEGER NOT NULL,
    outcome   TEXT NOT NULL,
    reason    TEXT,
    PRIMARY KEY (job_id, retry, attempt)
  ) WITHOUT ROWID;
  CREATE TABLE job_progress (
    seq    INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at     INTEGER NOT NULL,
    output TEXT NOT NULL
  );
  CREATE INDEX job_progress_job ON job_progress (job_id, seq);
  ALTER TABLE job_stream ADD COLUMN at INTEGER;
  `,
];
