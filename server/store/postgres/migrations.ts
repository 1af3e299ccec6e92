/**
 * PostgreSQL schema migrations, applied in order at start and never edited once released: append a new entry.
 * The same tables and columns as SQLite's (store/migrations.ts), so rows read the same from either: times are
 * milliseconds since the epoch (BIGINT, read back as numbers), flags and counters INTEGER, JSON documents text.
 * PostgreSQL starts at today's SQLite schema, so it has none of SQLite's history.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id                   TEXT PRIMARY KEY,
    endpoint_id          TEXT NOT NULL,
    status               TEXT NOT NULL,
    input                TEXT NOT NULL,
    webhook              TEXT,
    low_priority         INTEGER NOT NULL DEFAULT 0,
    execution_timeout_ms BIGINT NOT NULL,
    ttl_ms               BIGINT NOT NULL,
    retention_ms         BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    started_at           BIGINT,
    finished_at          BIGINT,
    worker_id            TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    retries              INTEGER NOT NULL DEFAULT 0,
    output               TEXT,
    error                TEXT,
    stream_read          INTEGER NOT NULL DEFAULT 0,
    webhook_attempts     INTEGER NOT NULL DEFAULT 0,
    webhook_due_at       BIGINT,
    -- Submission order within a millisecond, as SQLite's rowid gives it there.
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY
  );
  CREATE INDEX jobs_queue ON jobs (endpoint_id, status, created_at, seq);
  CREATE INDEX jobs_worker ON jobs (worker_id) WHERE status = 'IN_PROGRESS';
  CREATE INDEX jobs_webhook_due ON jobs (webhook_due_at) WHERE webhook_due_at IS NOT NULL;
  CREATE INDEX jobs_execution_deadline ON jobs ((started_at + execution_timeout_ms)) WHERE status = 'IN_PROGRESS';
  CREATE INDEX jobs_ttl_deadline ON jobs ((created_at + ttl_ms)) WHERE status IN ('IN_QUEUE', 'IN_PROGRESS');
  CREATE INDEX jobs_retention_deadline ON jobs ((finished_at + retention_ms));
  CREATE INDEX jobs_retried ON jobs (endpoint_id) WHERE retries > 0 OR attempts > 1;

  CREATE TABLE job_stream (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    output TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
  );

  CREATE TABLE workers (
    endpoint_id      TEXT NOT NULL,
    id               TEXT NOT NULL,
    first_seen_at    BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    sdk_version      TEXT,
    unhealthy_reason TEXT,
    leaving          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, id)
  );
  CREATE INDEX workers_last_seen ON workers (last_seen_at);

  CREATE TABLE templates (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );

  CREATE TABLE network_volumes (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );

  CREATE TABLE endpoints (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );

  CREATE TABLE endpoint_revisions (
    endpoint_id   TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    revision      INTEGER NOT NULL,
    spec          TEXT NOT NULL,
    template_spec TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, revision)
  );

  CREATE TABLE runtime_workers (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL,
    revision        INTEGER NOT NULL,
    type            TEXT NOT NULL,
    phase           TEXT NOT NULL,
    gpu_ids         TEXT NOT NULL,
    gpu_type_id     TEXT,
    gpu_simulated   INTEGER NOT NULL DEFAULT 0,
    memory_bytes    BIGINT,
    reason          TEXT,
    restarts        INTEGER NOT NULL DEFAULT 0,
    next_restart_at BIGINT,
    unhealthy_since BIGINT,
    created_at      BIGINT NOT NULL,
    started_at      BIGINT,
    phase_since     BIGINT NOT NULL
  );
  CREATE INDEX runtime_workers_endpoint ON runtime_workers (endpoint_id);

  CREATE TABLE usage_runs (
    job_id      TEXT NOT NULL,
    worker_id   TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    worker_type TEXT NOT NULL,
    gpu_type_id TEXT,
    gpu_count   INTEGER NOT NULL,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT NOT NULL
  );
  CREATE INDEX usage_runs_ended ON usage_runs (ended_at);
  `,
  // Which control plane leads (runs the fleet and the sweeper) while several share the database: one row per lease,
  // its expiry by the database's clock.
  `
  CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
  );
  `,
  // What SQLite's control plane keeps as files in its data directory (the worker-key secret, the control plane's
  // id on its runtime), shared here by every control plane on the database.
  `
  CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // Which workers may take no new jobs (standbys, draining and outdated workers): the leader's runtime decides,
  // every control plane hands out jobs.
  `
  CREATE TABLE held_workers (
    endpoint_id TEXT NOT NULL,
    worker_id   TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, worker_id)
  );
  `,
  // What the leader's runtime shows, published for the other control planes (runtimes/shared-runtime.ts).
  `
  CREATE TABLE runtime_views (
    endpoint_id TEXT PRIMARY KEY,
    published   TEXT NOT NULL
  );
  `,
  // Jobs by endpoint and status, for /health, metrics and the overview without counting every queued and retained
  // job. A counter row updated by every transaction would serialize the control planes' commits (and deadlock two
  // batches touching two endpoints in turn), so statements append their changes, readers add the unfolded ones to
  // the counts, and the sweeper folds them in (PostgresJobStore.foldCounts).
  `
  CREATE TABLE job_counts (
    endpoint_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, status)
  );
  CREATE TABLE job_count_changes (
    endpoint_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    delta       BIGINT NOT NULL
  );
  CREATE INDEX job_count_changes_endpoint ON job_count_changes (endpoint_id);
  INSERT INTO job_counts (endpoint_id, status, n) SELECT endpoint_id, status, COUNT(*) FROM jobs GROUP BY endpoint_id, status;
  CREATE FUNCTION job_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO job_count_changes SELECT endpoint_id, status, COUNT(*) FROM new_rows GROUP BY endpoint_id, status;
    ELSIF TG_OP = 'DELETE' THEN
      INSERT INTO job_count_changes SELECT endpoint_id, status, -COUNT(*) FROM old_rows GROUP BY endpoint_id, status;
    ELSE
      INSERT INTO job_count_changes
        SELECT endpoint_id, status, SUM(delta) FROM (
          SELECT endpoint_id, status, -1 AS delta FROM old_rows
          UNION ALL SELECT endpoint_id, status, 1 FROM new_rows
        ) AS changed GROUP BY endpoint_id, status HAVING SUM(delta) <> 0;
    END IF;
    RETURN NULL;
  END
  $$;
  CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_changed();
  CREATE TRIGGER job_counts_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_changed();
  CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_changed();
  `,
  // API keys with scopes (server/api-keys.ts), as in SQLite.
  `
  CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    endpoint_ids TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
  );
  `,
  // The audit log of admin writes (server/audit.ts), as in SQLite.
  `
  CREATE TABLE audit_log (
    seq         BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
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
  // A job's timeline, as in SQLite. Progress updates are numbered by a sequence: runpod-python sends each from a
  // thread of its own, so two of one job may be written at once.
  `
  CREATE TABLE job_attempts (
    job_id    TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    retry     INTEGER NOT NULL,
    attempt   INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    taken_at  BIGINT NOT NULL,
    ended_at  BIGINT NOT NULL,
    outcome   TEXT NOT NULL,
    reason    TEXT,
    PRIMARY KEY (job_id, retry, attempt)
  );
  CREATE TABLE job_progress (
    seq    BIGSERIAL PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at     BIGINT NOT NULL,
    output TEXT NOT NULL
  );
  CREATE INDEX job_progress_job ON job_progress (job_id, seq);
  ALTER TABLE job_stream ADD COLUMN at BIGINT;
  `,
];
