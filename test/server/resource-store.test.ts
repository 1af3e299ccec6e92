// The resource store's rules and persistence against both backends (a fresh SQLite file, a fresh PostgreSQL
// database): what one store writes, a store opened afresh on the same database reads back exactly; a write the
// database refuses leaves the store as the database has it.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test, type TestContext } from "node:test";
import { ConflictError, InvalidFieldError } from "../../server/errors";
import { endpointSpecSchema, networkVolumeSpecSchema, templateSpecSchema } from "../../server/resources/schemas";
import { BerthDatabase } from "../../server/store/database";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { PostgresResourceRows } from "../../server/store/postgres/resource-rows";
import { SqliteResourceRows } from "../../server/store/resource-rows";
import { ResourceStore, type ResourceRows } from "../../server/store/resources";
import { freshDatabase } from "../helpers/postgres";

interface Backend {
  name: string;
  /** Rows on a fresh database; `reopen` gives new rows on the same one; `exec` runs SQL on it directly. */
  open(t: TestContext): Promise<{ rows: ResourceRows; reopen(): Promise<ResourceRows>; exec(sql: string): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: "SQLite",
    async open(t) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-resources-"));
      const file = path.join(dir, "berth.db");
      const opened: BerthDatabase[] = [new BerthDatabase(file)];
      t.after(() => {
        for (const db of opened) db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      return {
        rows: new SqliteResourceRows(opened[0]!),
        async reopen() {
          await opened[0]!.durable();
          const db = new BerthDatabase(file);
          opened.push(db);
          return new SqliteResourceRows(db);
        },
        exec: async (sql) => void opened[0]!.db.exec(sql),
      };
    },
  },
  {
    name: "PostgreSQL",
    async open(t) {
      const database = await freshDatabase("resources");
      const opened = [await PostgresDatabase.open(database.url)];
      t.after(async () => {
        for (const db of opened) await db.close();
        await database.drop();
      });
      return {
        rows: new PostgresResourceRows(opened[0]!.sql),
        async reopen() {
          const db = await PostgresDatabase.open(database.url);
          opened.push(db);
          return new PostgresResourceRows(db.sql);
        },
        exec: async (sql) => void (await opened[0]!.sql.unsafe(sql)),
      };
    },
  },
];

const template = (env: Record<string, string> = {}) => templateSpecSchema.parse({ name: "t", imageName: "berth/test:1", env });
const volume = (size: number) => networkVolumeSpecSchema.parse({ name: "v", size, dataCenterId: "EU-RO-1" });
const endpoint = (templateId: string, more: Record<string, unknown> = {}) =>
  endpointSpecSchema.parse({ name: "e", templateId, gpuTypeIds: ["NVIDIA GeForce RTX 4090"], ...more });

for (const backend of BACKENDS) {
  describe(`ResourceStore on ${backend.name}`, () => {
    test("what is written is read back exactly by a store opened afresh on the same database", async (t) => {
      const db = await backend.open(t);
      const store = await ResourceStore.open(db.rows);
      const tpl = store.createTemplate(template({ A: "1" }));
      const vol = store.createVolume(volume(10));
      const ep = store.createEndpoint(endpoint(tpl.id, { networkVolumeId: vol.id, dataCenterIds: ["EU-RO-1"] }));
      store.updateEndpoint(ep.id, endpoint(tpl.id, { networkVolumeId: vol.id, dataCenterIds: ["EU-RO-1"], workersMax: 5 }));
      store.updateTemplate(tpl.id, template({ A: "2" }));
      store.updateVolume(vol.id, volume(20));
      const gone = store.createTemplate(template());
      store.deleteTemplate(gone.id);
      await store.durable();

      const again = await ResourceStore.open(await db.reopen());
      assert.deepEqual(again.listTemplates(), store.listTemplates());
      assert.deepEqual(again.listVolumes(), store.listVolumes());
      assert.deepEqual(again.listEndpoints(), store.listEndpoints());
      assert.deepEqual(again.revisions(ep.id), store.revisions(ep.id));
      assert.deepEqual(
        again.revisions(ep.id)!.map((r) => [r.revision, r.templateSpec.env]),
        [
          [1, { A: "1" }],
          [2, { A: "2" }],
        ],
        "workersMax is no new revision; the template's env is",
      );
      assert.equal(again.getEndpoint(ep.id)!.spec.workersMax, 5);
      assert.equal(again.getVolume(vol.id)!.spec.size, 20);
      assert.equal(again.getTemplate(gone.id), undefined);
    });

    test("the rules that need stored state hold, and a refused write changes nothing", async (t) => {
      const db = await backend.open(t);
      const store = await ResourceStore.open(db.rows);
      const tpl = store.createTemplate(template());
      const vol = store.createVolume(volume(10));
      const ep = store.createEndpoint(endpoint(tpl.id, { networkVolumeId: vol.id }));
      await store.durable();
      assert.throws(() => store.createEndpoint(endpoint("nope")), (err: Error) => err instanceof InvalidFieldError && err.field === "templateId");
      assert.throws(() => store.deleteTemplate(tpl.id), (err: Error) => err instanceof ConflictError && err.code === "in_use");
      assert.throws(() => store.deleteVolume(vol.id), (err: Error) => err instanceof ConflictError && err.code === "in_use");
      assert.throws(() => store.updateVolume(vol.id, volume(5)), (err: Error) => err instanceof InvalidFieldError && err.field === "size");
      store.deleteEndpoint(ep.id);
      store.deleteVolume(vol.id);
      store.deleteTemplate(tpl.id);
      await store.durable();
      const again = await ResourceStore.open(await db.reopen());
      assert.deepEqual([again.listTemplates(), again.listVolumes(), again.listEndpoints()], [[], [], []]);
      assert.equal(again.revisions(ep.id), undefined, "the endpoint's revisions went with it");
    });

    test("a write the database refuses is reported to durable(), and the store is back to what the database has", async (t) => {
      const db = await backend.open(t);
      const store = await ResourceStore.open(db.rows);
      const tpl = store.createTemplate(template({ A: "1" }));
      const ep = store.createEndpoint(endpoint(tpl.id));
      await store.durable();
      // Revision 2 is taken behind the store's back (as another control plane's write would), so its own fails.
      await db.exec(`INSERT INTO endpoint_revisions (endpoint_id, revision, spec, template_spec, created_at)
        VALUES ('${ep.id}', 2, '{}', '{}', 1)`);
      store.updateTemplate(tpl.id, template({ A: "2" }));
      assert.equal(store.getEndpoint(ep.id)!.revision, 2, "the store's copy moves at once");
      await assert.rejects(store.durable());
      assert.equal(store.getEndpoint(ep.id)!.revision, 1, "then goes back to what the database has");
      assert.deepEqual(store.getTemplate(tpl.id)!.spec.env, { A: "1" }, "the whole refused write is undone");
      store.updateEndpoint(ep.id, endpoint(tpl.id, { workersMax: 7 }));
      await store.durable();
      const again = await ResourceStore.open(await db.reopen());
      assert.equal(again.getEndpoint(ep.id)!.spec.workersMax, 7, "the next write is not failed by the refused one");
    });
  });
}
