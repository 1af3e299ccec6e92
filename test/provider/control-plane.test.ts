// The control plane installed from a Pulumi program on the real Docker engine (its container from the image
// scripts/build-control-plane-image.sh builds, and a data volume), with a template and an endpoint on it: one
// `pulumi up` makes the environment, a job runs through it, and `pulumi destroy` leaves nothing behind. Its secrets
// reach it as files in its data volume, never in what `docker inspect` shows.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import net from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import axios from "axios";
import { LABELS } from "../../docker-engine/labels";
import { TestDockerEngine } from "../helpers/docker-engine";
import { freshDatabase, queryDatabase } from "../helpers/postgres";
import { PulumiWorkspace } from "../helpers/pulumi-cli";
import { ensureWorkerImage } from "../helpers/worker-image";

const PROGRAM = path.resolve(__dirname, "../fixtures/pulumi-environment");
const REPO = path.resolve(__dirname, "../..");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const workspaces: PulumiWorkspace[] = [];
after(() => workspaces.forEach((stack) => stack.remove()));

/** The control-plane image, built once for the tests of this file. */
let builtImage: string | undefined;
const controlPlaneImage = () =>
  (builtImage ??= execFileSync("bash", [path.join(REPO, "scripts/build-control-plane-image.sh"), "berth/control-plane:test"], { encoding: "utf8" }).trim());

/** A stack of the environment program: a control plane named `name` on a free port, its key `apiKey`. */
async function environment(engine: TestDockerEngine, name: string, apiKey: string, secrets: Record<string, string> = {}): Promise<PulumiWorkspace> {
  const stack = await PulumiWorkspace.create(PROGRAM, "env");
  workspaces.push(stack);
  await stack.mustRun("config", "set", "name", name);
  await stack.mustRun("config", "set", "controlPlaneImage", controlPlaneImage());
  await stack.mustRun("config", "set", "workerImage", await ensureWorkerImage(engine));
  await stack.mustRun("config", "set", "port", String(await freePort()));
  await stack.mustRun("config", "set", "--secret", "apiKey", apiKey);
  for (const [key, value] of Object.entries(secrets)) await stack.mustRun("config", "set", "--secret", key, value);
  return stack;
}

/** Runs a job through the endpoint the stack made, with the API key the control plane was given. */
async function runsJob(stack: PulumiWorkspace, apiKey: string): Promise<void> {
  const outputs = JSON.parse((await stack.mustRun("stack", "output", "--json", "--show-secrets")).stdout);
  assert.equal(outputs.clientBaseUrl, `${outputs.url}/v2`);
  const job = await axios.post(`${outputs.clientBaseUrl}/${outputs.endpointId}/runsync`, { input: { from: "pulumi" } }, {
    headers: { Authorization: `Bearer ${apiKey}` },
    params: { wait: 60_000 },
  });
  assert.equal(job.data.status, "COMPLETED", JSON.stringify(job.data));
  assert.equal(job.data.output.gpus, "sim-0");
}

/**
 * What anyone allowed to `docker inspect` sees of the control plane's container holds none of `secrets`: its env
 * and command only name the files in its data volume, which are its own (mode 0600). Returns the files' texts.
 */
async function secretsOutOfSight(engine: TestDockerEngine, container: string, secrets: string[], files: string[]): Promise<Record<string, string>> {
  const inspect = JSON.stringify(await engine.inspectContainer(container));
  for (const secret of secrets) assert.ok(!inspect.includes(secret), `docker inspect shows a secret: ${inspect}`);
  assert.match(inspect, /"BERTH_API_KEYS_FILE=\/data\/secrets\/api-key"/);
  const texts: Record<string, string> = {};
  for (const file of files) {
    const { mode, text } = await engine.readFile(container, `/data/secrets/${file}`);
    assert.equal(mode.toString(8), "600", `${file} is readable by its owner only`);
    texts[file] = text;
  }
  return texts;
}

async function destroyed(engine: TestDockerEngine, stack: PulumiWorkspace, name: string): Promise<void> {
  await stack.mustRun("destroy", "--yes");
  assert.equal(await engine.inspectContainer(`berth-control-plane-${name}`), undefined, "the control plane's container is gone");
  assert.equal(await engine.volumeExists(`berth-control-plane-${name}-data`), false, "and its data volume");
  assert.deepEqual(await engine.listContainers({ [LABELS.controlPlane]: `pulumi-${name}` }), [], "and every worker");
}

test("one pulumi up installs the control plane and an endpoint on it; a job runs; destroy leaves nothing", async () => {
  const engine = TestDockerEngine.fromEnv();
  const name = `t${crypto.randomBytes(3).toString("hex")}`;
  const apiKey = `env-${crypto.randomBytes(12).toString("hex")}`;
  const stack = await environment(engine, name, apiKey);
  await stack.mustRun("up", "--yes");
  await runsJob(stack, apiKey);
  assert.ok(!JSON.stringify(await stack.stackState()).includes(apiKey), "the API key is not in the state in plaintext");
  const files = await secretsOutOfSight(engine, `berth-control-plane-${name}`, [apiKey], ["api-key"]);
  assert.equal(files["api-key"], `${apiKey}\n`);
  assert.equal((await engine.listContainers({ [LABELS.controlPlane]: `pulumi-${name}` })).length, 1, "its worker runs beside it");
  await destroyed(engine, stack, name);
});

test("on PostgreSQL, neither the key nor the database password shows, and its secrets key outlives a re-creation", async (t) => {
  const engine = TestDockerEngine.fromEnv();
  const database = await freshDatabase("provider_cp");
  t.after(() => database.drop());
  const password = new URL(database.url).password;
  const name = `t${crypto.randomBytes(3).toString("hex")}`;
  const apiKey = `env-${crypto.randomBytes(12).toString("hex")}`;
  const hfToken = `hf_${crypto.randomBytes(12).toString("hex")}`;
  const stack = await environment(engine, name, apiKey, { databaseUrl: database.url, hfToken });
  await stack.mustRun("up", "--yes");
  await runsJob(stack, apiKey);
  const container = `berth-control-plane-${name}`;
  const files = await secretsOutOfSight(engine, container, [apiKey, password, hfToken], ["api-key", "database-url", "secrets-key"]);
  assert.equal(files["database-url"], database.url);
  const state = JSON.stringify(await stack.stackState());
  for (const secret of [apiKey, password, hfToken, files["secrets-key"]!.trim()]) assert.ok(!state.includes(secret), "no secret in the state in plaintext");
  const stored = JSON.stringify(await queryDatabase(database.url, "SELECT spec FROM templates"));
  assert.ok(stored.includes("enc:v1:") && !stored.includes(hfToken), "the template's secret is encrypted in the database");

  // A changed setting re-creates the container; the new one must open what the first encrypted.
  const first = (await engine.inspectContainer(container))!.Id;
  await stack.mustRun("config", "set", "extraWorkers", "1");
  await stack.mustRun("up", "--yes");
  assert.notEqual((await engine.inspectContainer(container))!.Id, first, "the container was re-created");
  const again = await secretsOutOfSight(engine, container, [apiKey, password, hfToken], ["secrets-key"]);
  assert.equal(again["secrets-key"], files["secrets-key"], "the same secrets key");
  await runsJob(stack, apiKey);
  await destroyed(engine, stack, name);
});
