// `berth store copy`: an installation on SQLite moved into PostgreSQL by the real CLI, then served from there by a
// control plane on the same data directory: everything reads back the same, and the workers' keys still work.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint, workerClient } from "../helpers/endpoint";
import { freshDatabase, queryDatabase } from "../helpers/postgres";

const BERTH = path.resolve(__dirname, "../../bin/berth");
const run = promisify(execFile);

async function berth(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BERTH, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test("an installation copied from SQLite into PostgreSQL is served from there as it was", async (t) => {
  const sqlite = await ControlPlaneProcess.start();
  t.after(() => sqlite.removeData());
  // A secret env value, kept encrypted: the copy carries the ciphertext, and the key stays a file.
  const ep = await createEndpoint(sqlite, { env: { TOKEN: "copied-secret-value" }, secretEnvKeys: ["TOKEN"] });
  const api = apiClient(sqlite);
  const worker = workerClient(ep, "w1");
  const done = (await api.post(`/v2/${ep.id}/run`, { input: { n: 1 } })).data.id;
  const taken = await worker.take();
  assert.equal(taken.data.id, done);
  await worker.done(done, { output: { ok: true } });
  const queued = (await api.post(`/v2/${ep.id}/run`, { input: { n: 2 } })).data.id;
  const read = async (client = api) => ({
    templates: (await client.get("/admin/templates")).data,
    endpoints: (await client.get("/admin/endpoints")).data,
    revisions: (await client.get(`/admin/endpoints/${ep.id}/revisions`)).data,
    done: (await client.get(`/v2/${ep.id}/status/${done}`)).data,
    queued: (await client.get(`/v2/${ep.id}/status/${queued}`)).data,
  });
  const before = await read();
  await sqlite.stop();

  const target = await freshDatabase("copy");
  t.after(() => target.drop());
  const copied = await berth("store", "copy", "--from", sqlite.dataDir, "--to", target.url);
  assert.equal(copied.code, 0, copied.stderr);
  assert.match(copied.stdout, /jobs\s+2\b/);
  assert.match(copied.stdout, /endpoints\s+1\b/);
  assert.match(copied.stdout, /settings\s+1\b/, "the worker-key secret (this installation ran no runtime, so it has no runtime id)");
  assert.ok(!copied.stdout.includes(new URL(target.url).password), "the password is masked");
  const keyFile = path.join(sqlite.dataDir, "secrets.key");
  assert.ok(copied.stdout.includes(`--secrets-key-file ${keyFile}`), "it says which key the control planes on PostgreSQL need");
  const rows = JSON.stringify(await queryDatabase(target.url, "SELECT spec FROM endpoints"));
  assert.ok(rows.includes("enc:v1:") && !rows.includes("copied-secret-value"), "copied encrypted");

  // The same address as before, as a moved installation keeps it, but a new data directory: the worker-key secret
  // came along in the database, so workers and clients change nothing.
  const pg = await ControlPlaneProcess.start({ database: target, secretsKeyFile: keyFile, apiKey: sqlite.apiKey, port: Number(new URL(sqlite.url).port) });
  t.after(async () => {
    await pg.stop();
    fs.rmSync(pg.dataDir, { recursive: true, force: true });
  });
  const after = await read(apiClient(pg));
  assert.deepEqual({ ...after, done: { ...after.done, delayTime: 0 }, queued: { ...after.queued, delayTime: 0 } }, {
    ...before,
    done: { ...before.done, delayTime: 0 },
    queued: { ...before.queued, delayTime: 0 },
  });
  assert.equal(after.done.delayTime, before.done.delayTime, "an ended job's times are as they were");
  // The queued job is handed out from PostgreSQL, to a worker whose key was made before the copy.
  const worker2 = workerClient(ep, "w2");
  const next = await worker2.take();
  assert.equal(next.status, 200);
  assert.equal(next.data.id, queued);
});

test("a copy into a database that is not empty, or from where there is no store, is refused and says why", async (t) => {
  const target = await freshDatabase("copy_refused");
  t.after(() => target.drop());
  const source = await ControlPlaneProcess.start();
  await createEndpoint(source);
  await source.stop();
  t.after(() => source.removeData());
  assert.equal((await berth("store", "copy", "--from", source.dataDir, "--to", target.url)).code, 0);
  const again = await berth("store", "copy", "--from", source.dataDir, "--to", target.url);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^berth: --to postgres:\/\/berth:\*\*\*@127\.0\.0\.1:\d+\/berth_copy_refused_\w+: the database is not empty \(templates has rows\)/);
  const nowhere = await berth("store", "copy", "--from", "/nonexistent/berth", "--to", target.url);
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.stderr, /--from \/nonexistent\/berth: no Berth store there/);
});
