// GroupCommit on the test bed's PostgreSQL: writes that arrive while a batch commits share the next commit (one
// transaction, seen by pg_stat_database's commit counter), and a write that fails in a batch fails alone while the
// others of its batch are committed. Pings batched by the worker-call store likewise go in one statement.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { GroupCommit } from "../../server/store/postgres/group-commit";
import { PostgresWorkerCallStore } from "../../server/store/postgres/worker-calls";
import { freshDatabase, type TestDatabase } from "../helpers/postgres";

let db: TestDatabase;
let database: PostgresDatabase;

before(async () => {
  db = await freshDatabase("group_commit");
  database = await PostgresDatabase.open(db.url);
  await database.sql`CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)`;
});
after(async () => {
  await database?.close();
  await db?.drop();
});

/** Transactions committed in this database so far, by the server's own count (flushed to the statistics first). */
async function commits(): Promise<number> {
  await database.sql`SELECT pg_stat_force_next_flush()`;
  const [row] = await database.sql<Array<{ n: number }>>`SELECT xact_commit::int AS n FROM pg_stat_database WHERE datname = current_database()`;
  return row!.n;
}

test("forty writes sent together commit in a few transactions, and each gets its own answer", async () => {
  const group = new GroupCommit(database.sql);
  const before = await commits();
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) => group.run(async (sql) => (await sql<Array<{ id: number }>>`INSERT INTO items VALUES (${i}, 'batched') RETURNING id`)[0]!.id)),
  );
  const used = (await commits()) - before - 1; // the count's own query is one
  assert.deepEqual(answers, Array.from({ length: 40 }, (_, i) => i), "each write's own result, in its own order");
  const [counted] = await database.sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM items WHERE note = 'batched'`;
  assert.equal(counted!.n, 40, "all forty rows are committed");
  // The first goes alone; the other 39 wait for it and go as one batch.
  assert.ok(used <= 3, `forty writes in at most three commits (took ${used})`);
});

test("a write that fails in a batch fails alone; the rest of its batch is committed", async () => {
  const group = new GroupCommit(database.sql);
  const results = await Promise.allSettled([
    group.run((sql) => sql`INSERT INTO items VALUES (100, 'first')`),
    group.run((sql) => sql`INSERT INTO items VALUES (101, 'ok')`),
    group.run((sql) => sql`INSERT INTO items VALUES (101, 'duplicate')`),
    group.run((sql) => sql`INSERT INTO items VALUES (102, 'ok')`),
  ]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled", "rejected", "fulfilled"]);
  assert.match(String((results[2] as PromiseRejectedResult).reason), /duplicate key/);
  const rows = await database.sql<Array<{ id: number; note: string }>>`SELECT id, note FROM items WHERE id BETWEEN 100 AND 102 ORDER BY id`;
  assert.deepEqual(rows.map((r) => ({ ...r })), [
    { id: 100, note: "first" },
    { id: 101, note: "ok" },
    { id: 102, note: "ok" },
  ]);
});

test("fifty pings within the batch window are one statement; each worker's latest time and SDK version are kept", async () => {
  const workers = new PostgresWorkerCallStore(database.sql);
  // Statements on the workers table, counted by a statement trigger (the pool's connections report their own
  // statistics late, so pg_stat_database cannot tell here).
  await database.sql.unsafe(`
    CREATE TABLE worker_statements (at timestamptz NOT NULL DEFAULT now());
    CREATE FUNCTION count_worker_statement() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO worker_statements DEFAULT VALUES; RETURN NULL; END $$;
    CREATE TRIGGER worker_statements AFTER INSERT ON workers FOR EACH STATEMENT EXECUTE FUNCTION count_worker_statement();`);
  const statements = async () => (await database.sql<Array<{ n: number }>>`SELECT COUNT(*)::int AS n FROM worker_statements`)[0]!.n;
  await workers.touch("ep-a", "w-0", 5_000, "1.6.0");
  const before = await statements();
  await Promise.all([
    ...Array.from({ length: 50 }, (_, i) => workers.touchBatched("ep-a", `w-${i}`, 1_000 + i, i === 0 ? undefined : "1.7.0")),
    workers.touchBatched("ep-a", "w-1", 900),
  ]);
  assert.equal((await statements()) - before, 1, "one statement");
  const rows = await workers.ofEndpoint("ep-a");
  assert.equal(rows.length, 50);
  const w0 = rows.find((r) => r.id === "w-0")!;
  assert.deepEqual([w0.last_seen_at, w0.sdk_version], [5_000, "1.6.0"], "an older ping never moves a worker back, nor clears its version");
  const w1 = rows.find((r) => r.id === "w-1")!;
  assert.deepEqual([w1.first_seen_at, w1.last_seen_at, w1.sdk_version], [1_001, 1_001, "1.7.0"], "the later of two pings in one window");
});
