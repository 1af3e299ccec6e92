// API keys with scopes (issue 17's first part): made with a secret shown once, kept hashed, refused at once when
// revoked or expired. On both stores.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test, type TestContext } from "node:test";
import { ApiKeys, type ApiKeyRows } from "../../server/api-keys";
import { InvalidFieldError, NotFoundError } from "../../server/errors";
import { SqliteApiKeyRows } from "../../server/store/api-key-rows";
import { BerthDatabase } from "../../server/store/database";
import { PostgresApiKeyRows } from "../../server/store/postgres/api-key-rows";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { freshDatabase } from "../helpers/postgres";
import { keySecret } from "../helpers/api-key";

const T0 = 1_700_000_000_000;

const STORES: Array<{ name: string; open(t: TestContext): Promise<{ rows: ApiKeyRows; raw(): Promise<unknown[]> }> }> = [
  {
    name: "SQLite",
    async open(t) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-api-keys-"));
      const database = new BerthDatabase(path.join(dir, "berth.db"));
      t.after(() => {
        database.close();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      return { rows: new SqliteApiKeyRows(database), raw: async () => database.db.prepare("SELECT * FROM api_keys").all() };
    },
  },
  {
    name: "PostgreSQL",
    async open(t) {
      const test = await freshDatabase("api_keys");
      const database = await PostgresDatabase.open(test.url);
      t.after(async () => {
        await database.close();
        await test.drop();
      });
      return { rows: new PostgresApiKeyRows(database.sql), raw: async () => [...(await database.sql`SELECT * FROM api_keys`)] };
    },
  },
];

for (const store of STORES) {
  describe(`API keys on ${store.name}`, () => {
    test("a key works until revoked or expired; a wrong, altered or malformed one never does; the secret is not kept", async (t) => {
      const { rows, raw } = await store.open(t);
      const keys = new ApiKeys(rows);
      const app = await keys.create({ name: "app", scope: "run", endpointIds: ["ep-b", "ep-a", "ep-a"] }, T0);
      const dash = await keys.create({ name: "dashboard", scope: "read", expiresAt: T0 + 60_000 }, T0 + 1);
      assert.match(app.key, /^bk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(app.record.endpointIds, ["ep-a", "ep-b"]);

      assert.deepEqual(await keys.verify(app.key, T0 + 1), { ...app.record, lastUsedAt: null });
      assert.equal((await keys.verify(dash.key, T0 + 59_999))?.scope, "read");
      assert.equal(await keys.verify(dash.key, T0 + 60_000), undefined, "expired at expiresAt");
      const secret = keySecret(app.key);
      assert.equal(await keys.verify(`bk_${app.record.id}_${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`, T0), undefined, "altered secret");
      assert.equal(await keys.verify(`bk_${dash.record.id}_${secret}`, T0), undefined, "another key's secret");
      for (const bad of ["", "bk_", "berth_x", `bk_${app.record.id}`, app.key + "x", "x".repeat(10_000)]) assert.equal(await keys.verify(bad, T0), undefined, bad.slice(0, 30));

      const stored = JSON.stringify(await raw());
      assert.ok(!stored.includes(secret), "the secret is in no row");
      assert.ok(!JSON.stringify(await keys.list()).includes("ecretHash"), "listings carry no hash");
      assert.deepEqual((await keys.list()).map((k) => k.name), ["app", "dashboard"]);

      await keys.revoke(app.record.id, T0 + 5);
      assert.equal(await keys.verify(app.key, T0 + 6), undefined, "refused at once once revoked");
      assert.equal((await keys.list()).find((k) => k.id === app.record.id)?.revokedAt, T0 + 5);
      await keys.revoke(app.record.id, T0 + 7);
      assert.equal((await keys.list()).find((k) => k.id === app.record.id)?.revokedAt, T0 + 5, "revoking again changes nothing");
      await assert.rejects(keys.revoke("0123456789abcdef", T0), (err: Error) => err instanceof NotFoundError && /0123456789abcdef/.test(err.message));
    });

    test("a run key names endpoints and only a run key does; expiry must be ahead; last use is written once a minute", async (t) => {
      const { rows } = await store.open(t);
      const keys = new ApiKeys(rows);
      const refused = (field: string) => (err: Error) => err instanceof InvalidFieldError && err.field === field;
      await assert.rejects(keys.create({ name: "x", scope: "run" }, T0), refused("endpointIds"));
      await assert.rejects(keys.create({ name: "x", scope: "admin", endpointIds: ["ep-a"] }, T0), refused("endpointIds"));
      await assert.rejects(keys.create({ name: "x", scope: "read", expiresAt: T0 }, T0), refused("expiresAt"));

      const ops = await keys.create({ name: "pipeline", scope: "admin" }, T0);
      await keys.verify(ops.key, T0 + 1_000);
      await keys.verify(ops.key, T0 + 30_000);
      assert.equal((await keys.list())[0]!.lastUsedAt, T0 + 1_000, "not written again within the minute");
      await keys.verify(ops.key, T0 + 61_000);
      assert.equal((await keys.list())[0]!.lastUsedAt, T0 + 61_000);
    });
  });
}
