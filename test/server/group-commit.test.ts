// GroupCommit on the test bed's PostgreSQL: writes that arrive while a batch commits share the next commit (one
// transaction, seen by pg_stat_database's commit counter), and a write that fails in a batch fails alone while the
// others of its batch are committed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { GroupCommit } from "../../server/store/postgres/group-commit";
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
