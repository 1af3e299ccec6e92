// Secret env values encrypted at rest, on both stores: what the database holds, what the API and workers see, a
// wrong key, and stores written before the values were encrypted.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test, type TestContext } from "node:test";
import pino from "pino";
import { endpointSpecSchema, templateSpecSchema } from "../../server/resources/schemas";
import { BerthDatabase } from "../../server/store/database";
import { openStore } from "../../server/store/open-store";
import { PostgresDatabase } from "../../server/store/postgres/database";
import { PostgresResourceRows } from "../../server/store/postgres/resource-rows";
import { SqliteResourceRows } from "../../server/store/resource-rows";
import { ResourceStore, type ResourceRows } from "../../server/store/resources";
import { revisionEnv } from "../../server/worker-env";
import { ControlPlaneProcess, secretsKeyFileOf, STORES, type StoreKind } from "../helpers/control-plane";
import { apiClient } from "../helpers/endpoint";
import { freshDatabase, type TestDatabase } from "../helpers/postgres";

const SECRET = "hf_" + crypto.randomBytes(12).toString("hex");
const ENDPOINT_SECRET = "sk-" + crypto.randomBytes(12).toString("hex");
const TEMPLATE = { name: "t", imageName: "berth/app:1", env: { HF_TOKEN: SECRET, LEVEL: "debug" }, secretEnvKeys: ["HF_TOKEN"] };
const ENDPOINT = { name: "e", env: { OPENAI_KEY: ENDPOINT_SECRET }, secretEnvKeys: ["OPENAI_KEY"] };
const SPEC_TABLES = ["templates", "endpoints", "endpoint_revisions"];

/** Everything the store holds about resources, as text: on SQLite every file of the data directory, WAL included (not the worker logs' folder). */
async function atRest(cp: ControlPlaneProcess): Promise<string> {
  if (cp.database) {
    const rows = await Promise.all(SPEC_TABLES.map((table) => cp.query(`SELECT * FROM ${table}`)));
    return JSON.stringify(rows);
  }
  return fs
    .readdirSync(cp.dataDir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => fs.readFileSync(path.join(cp.dataDir, entry.name)).toString("latin1"))
    .join("\n");
}

/** The endpoint as the runtime reads it from the store: what its workers' environment is made of. */
async function workerEnvFromStore(cp: ControlPlaneProcess, endpointId: string): Promise<Record<string, string>> {
  const store = await openStore(
    { dataDir: cp.dataDir, databaseUrl: cp.database?.url, secretsKeyFile: cp.secretsKeyFile },
    pino({ level: "silent" }),
  );
  try {
    const resources = await ResourceStore.open(store.resources);
    const revisions = resources.revisions(endpointId)!;
    assert.ok(revisions.every((r) => r.templateSpec.env.HF_TOKEN === SECRET), "every revision's template reads back decrypted");
    return revisionEnv(resources.currentRevision(endpointId)!, {});
  } finally {
    await store.close();
  }
}

async function startedControlPlane(t: TestContext, store: StoreKind): Promise<ControlPlaneProcess> {
  const cp = await ControlPlaneProcess.start({ store });
  t.after(async () => {
    await cp.stop();
    await cp.removeData();
  });
  return cp;
}

for (const store of STORES) {
  describe(`secret env values at rest (${store})`, () => {
    test("are stored encrypted; the API masks them, workers get them in plaintext", async (t) => {
      const cp = await startedControlPlane(t, store);
      const api = apiClient(cp);
      const template = (await api.post("/admin/templates", TEMPLATE)).data;
      const endpoint = (await api.post("/admin/endpoints", { ...ENDPOINT, templateId: template.id })).data;
      // A new image rolls out: a second revision, with its own copy of the template.
      assert.equal((await api.patch(`/admin/templates/${template.id}`, { imageName: "berth/app:2" })).status, 200);
      const revisions = await api.get(`/admin/endpoints/${endpoint.id}/revisions`);
      assert.equal(revisions.data.length, 2);
      for (const reply of [await api.get(`/admin/templates/${template.id}`), await api.get(`/admin/endpoints/${endpoint.id}`), revisions]) {
        const text = JSON.stringify(reply.data);
        assert.ok(!text.includes(SECRET) && !text.includes(ENDPOINT_SECRET) && text.includes("********"), text);
      }
      await cp.stop();

      const stored = await atRest(cp);
      assert.ok(!stored.includes(SECRET), "the template's secret is nowhere in the store");
      assert.ok(!stored.includes(ENDPOINT_SECRET), "nor the endpoint's");
      if (cp.database) assert.equal(stored.match(/enc:v1:/g)?.length, 6, "template, endpoint, and both of each revision's copies");
      assert.ok(stored.includes("debug"), "a value that is not secret is stored as it is");

      const env = await workerEnvFromStore(cp, endpoint.id);
      assert.equal(env.HF_TOKEN, SECRET);
      assert.equal(env.OPENAI_KEY, ENDPOINT_SECRET);
      assert.equal(env.LEVEL, "debug");
    });

    test("another key stops the start with a message naming its file, never a value", async (t) => {
      const cp = await startedControlPlane(t, store);
      await apiClient(cp).post("/admin/templates", TEMPLATE);
      await cp.stop();
      const other = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-key-")), "other.key");
      fs.writeFileSync(other, crypto.randomBytes(32).toString("base64"), { mode: 0o600 });
      t.after(() => fs.rmSync(path.dirname(other), { recursive: true, force: true }));
      const started = ControlPlaneProcess.start({ store, dataDir: cp.dataDir, database: cp.database, secretsKeyFile: other });
      const err = (await started.then(
        () => assert.fail("started with the wrong key"),
        (e: Error) => e,
      )) as Error;
      assert.match(err.message, /exited with 1 before listening/);
      assert.match(err.message, new RegExp(`encrypted with the key of fingerprint [0-9a-f]{16}, not with the key in ${other} \\(fingerprint [0-9a-f]{16}\\)`));
      assert.match(err.message, /--secrets-key-file \/ BERTH_SECRETS_KEY_FILE/);
      assert.ok(!err.message.includes(SECRET) && !err.message.includes(fs.readFileSync(other, "utf8")));
    });

    test("values a store kept in plaintext before are encrypted at start", async (t) => {
      const { dataDir, database, rows, close } = await previousStore(t, store);
      const resources = await ResourceStore.open(rows);
      const template = resources.createTemplate(templateSpecSchema.parse(TEMPLATE));
      const endpoint = resources.createEndpoint(endpointSpecSchema.parse({ ...ENDPOINT, templateId: template.id }));
      await resources.durable();
      await close();

      const cp = await ControlPlaneProcess.start({ store, dataDir, database });
      t.after(async () => {
        await cp.stop();
        await cp.removeData();
      });
      const sealed = cp.entries().find((e) => e.msg === "encrypted the secret env values stored before they were encrypted at rest");
      assert.equal(sealed?.specs, 4, "the template, the endpoint and both copies in its revision");
      assert.equal((await apiClient(cp).get(`/admin/templates/${template.id}`)).data.env.HF_TOKEN, "********");
      await cp.stop();
      const stored = await atRest(cp);
      assert.ok(!stored.includes(SECRET) && !stored.includes(ENDPOINT_SECRET));
      const env = await workerEnvFromStore(cp, endpoint.id);
      assert.equal(env.HF_TOKEN, SECRET);
      assert.equal(env.OPENAI_KEY, ENDPOINT_SECRET);
    });
  });
}

/**
 * A store as Berth wrote it before secrets were encrypted at rest: the same schema, through the rows themselves,
 * with no key in between. The test checks that it really holds the plaintext.
 */
async function previousStore(
  t: TestContext,
  store: StoreKind,
): Promise<{ dataDir: string; database?: TestDatabase; rows: ResourceRows; close(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-cp-"));
  if (store === "sqlite") {
    const db = new BerthDatabase(path.join(dataDir, "berth.db"));
    const read = () => JSON.stringify(db.db.prepare("SELECT spec FROM templates").all());
    return {
      dataDir,
      rows: new SqliteResourceRows(db),
      close: async () => {
        assert.ok(read().includes(SECRET), "the old store holds the secret in plaintext");
        db.close();
      },
    };
  }
  const database = await freshDatabase("secrets_before");
  t.after(() => fs.rmSync(secretsKeyFileOf(database), { force: true }));
  const db = await PostgresDatabase.open(database.url);
  return {
    dataDir,
    database,
    rows: new PostgresResourceRows(db.sql),
    close: async () => {
      assert.ok(JSON.stringify(await db.sql`SELECT spec FROM templates`).includes(SECRET), "the old store holds the secret in plaintext");
      await db.close();
    },
  };
}
