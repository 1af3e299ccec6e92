// The audit log of admin writes, on both stores: which key did what to which thing, before and after with secrets
// masked, through the admin API and `berth audit`; and API keys made, listed and revoked with `berth keys`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ControlPlaneProcess, STORES } from "../helpers/control-plane";
import { apiClient } from "../helpers/endpoint";
import { keySecret } from "../helpers/api-key";

const run = promisify(execFile);
const BERTH = path.resolve(__dirname, "../../bin/berth");
const SECRET = "hf_audit_secret_value_0123456789";

for (const store of STORES) {
  describe(`audit log and berth keys (${store})`, () => {
    let cp: ControlPlaneProcess;
    const berth = (key: string, ...args: string[]) => run(process.execPath, [BERTH, ...args, "--url", cp.url, "--api-key", key]);

    before(async () => {
      cp = await ControlPlaneProcess.start({ store });
    });
    after(async () => {
      await cp?.stop();
      await cp?.removeData();
    });

    test("each admin write is logged with its key, action, and the thing before and after, secrets masked", async () => {
      const { stdout: deployKey } = await berth(cp.apiKey, "keys", "create", "--name", "deploy pipeline", "--scope", "admin");
      const deploy = apiClient(cp, deployKey.trim());
      const created = await deploy.post("/admin/templates", { name: "llm", imageName: "worker:1", env: { HF_TOKEN: SECRET }, secretEnvKeys: ["HF_TOKEN"] });
      assert.equal(created.status, 200, JSON.stringify(created.data));
      const id = created.data.id as string;
      assert.equal((await deploy.patch(`/admin/templates/${id}`, { imageName: "worker:2", env: { HF_TOKEN: `${SECRET}-rotated` } })).status, 200);
      assert.equal((await deploy.delete(`/admin/templates/${id}`)).status, 204);

      const { data } = await apiClient(cp).get("/admin/audit", { params: { targetId: id } });
      const entries = data.entries as Array<Record<string, any>>;
      assert.deepEqual(entries.map((e) => e.action), ["DELETE /admin/templates/:id", "PATCH /admin/templates/:id", "POST /admin/templates"]);
      const keyId = deployKey.trim().split("_")[1];
      for (const entry of entries) {
        assert.equal(entry.keyId, keyId);
        assert.equal(entry.keyName, "deploy pipeline");
        assert.equal(entry.targetKind, "template");
        assert.equal(entry.targetId, id);
      }
      const [deleted, patched, made] = entries;
      assert.equal(made!.before, null);
      assert.equal(made!.after.imageName, "worker:1");
      assert.equal(patched!.before.imageName, "worker:1");
      assert.equal(patched!.after.imageName, "worker:2");
      // Masked, yet the log tells that the value changed.
      assert.equal(patched!.before.env.HF_TOKEN, "********");
      assert.equal(patched!.after.env.HF_TOKEN, "******** (changed)");
      assert.equal(deleted!.after, null);
      assert.ok(!JSON.stringify(data).includes(SECRET), "no secret value in the log");
      const rows = store === "postgres" ? JSON.stringify(await cp.query("SELECT * FROM audit_log")) : "";
      assert.ok(!rows.includes(SECRET), "no secret value in the stored rows");

      const { stdout: table } = await berth(cp.apiKey, "audit", "--target", id);
      const lines = table.trim().split("\n");
      assert.match(lines[0]!, /SEQ\s+AT\s+KEY\s+ACTION\s+TARGET\s+CHANGED/);
      assert.match(lines[1]!, /deploy pipeline .*DELETE \/admin\/templates\/:id\s+template .*deleted/);
      assert.match(lines[2]!, /PATCH \/admin\/templates\/:id\s+template \S+\s+imageName,env/);
      assert.match(lines[3]!, /POST \/admin\/templates\s+template \S+\s+created/);
    });

    test("berth keys: create shows the key once, list never, revoke refuses it and is logged", async () => {
      const { stdout, stderr } = await berth(cp.apiKey, "keys", "create", "--name", "dashboard", "--scope", "read", "--expires", "30d");
      const key = stdout.trim();
      assert.match(key, /^bk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      assert.match(stderr, /shown once/);
      const id = key.split("_")[1]!;
      const reader = apiClient(cp, key);
      assert.equal((await reader.get("/admin/overview")).status, 200);
      assert.equal((await reader.post("/admin/templates", { name: "x", imageName: "x" })).status, 403);

      const { stdout: listed } = await berth(key, "keys", "list");
      assert.match(listed, new RegExp(`${id}\\s+dashboard\\s+read\\s+active`));
      assert.ok(!listed.includes(keySecret(key)), "the list shows no secret");

      await assert.rejects(berth(key, "keys", "revoke", id), /HTTP 403: API key dashboard \(\w+\) has scope read; this route needs an admin key/);
      const { stdout: revoked } = await berth(cp.apiKey, "keys", "revoke", id);
      assert.match(revoked, new RegExp(`revoked API key ${id}`));
      assert.equal((await reader.get("/admin/overview")).status, 401);

      const { data } = await apiClient(cp).get("/admin/audit", { params: { targetId: id } });
      assert.deepEqual(data.entries.map((e: { action: string }) => e.action), ["DELETE /admin/keys/:id", "POST /admin/keys"]);
      assert.equal(data.entries[0].before.status, "active");
      assert.equal(data.entries[0].after.status, "revoked");
      assert.equal(data.entries[0].keyId, "bootstrap");
      assert.ok(!JSON.stringify(data).includes(keySecret(key)), "the log holds no key secret");
    });

    test("bad input to berth keys names the field", async () => {
      await assert.rejects(berth(cp.apiKey, "keys", "create", "--name", "app", "--scope", "run"), /body\.endpointIds: a run key names the endpoints it may call/);
      await assert.rejects(berth(cp.apiKey, "keys", "create", "--name", "app", "--scope", "read", "--expires", "soon"), /body\.expiresAt/);
      await assert.rejects(berth(cp.apiKey, "keys", "revoke", "0000000000000000"), /HTTP 404: API key 0000000000000000 does not exist/);
    });
  });
}
