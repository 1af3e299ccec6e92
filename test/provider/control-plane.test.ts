// The control plane installed from a Pulumi program on the real Docker engine (its container from the image
// scripts/build-control-plane-image.sh builds, and a data volume), with a template and an endpoint on it: one
// `pulumi up` makes the environment, a job runs through it, and `pulumi destroy` leaves nothing behind.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import net from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import axios from "axios";
import { LABELS } from "../../docker-engine/labels";
import { TestDockerEngine } from "../helpers/docker-engine";
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

let ws: PulumiWorkspace | undefined;
after(() => ws?.remove());

test("one pulumi up installs the control plane and an endpoint on it; a job runs; destroy leaves nothing", async () => {
  const engine = TestDockerEngine.fromEnv();
  const controlPlaneImage = execFileSync("bash", [path.join(REPO, "scripts/build-control-plane-image.sh"), "berth/control-plane:test"], {
    encoding: "utf8",
  }).trim();
  const name = `t${crypto.randomBytes(3).toString("hex")}`;
  const apiKey = `env-${crypto.randomBytes(12).toString("hex")}`;
  ws = await PulumiWorkspace.create(PROGRAM, "env");
  await ws.mustRun("config", "set", "name", name);
  await ws.mustRun("config", "set", "controlPlaneImage", controlPlaneImage);
  await ws.mustRun("config", "set", "workerImage", await ensureWorkerImage(engine));
  await ws.mustRun("config", "set", "port", String(await freePort()));
  await ws.mustRun("config", "set", "--secret", "apiKey", apiKey);

  await ws.mustRun("up", "--yes");
  const outputs = JSON.parse((await ws.mustRun("stack", "output", "--json", "--show-secrets")).stdout);
  assert.equal(outputs.clientBaseUrl, `${outputs.url}/v2`);
  const job = await axios.post(`${outputs.clientBaseUrl}/${outputs.endpointId}/runsync`, { input: { from: "pulumi" } }, {
    headers: { Authorization: `Bearer ${apiKey}` },
    params: { wait: 60_000 },
  });
  assert.equal(job.data.status, "COMPLETED", JSON.stringify(job.data));
  assert.equal(job.data.output.gpus, "sim-0");
  assert.ok(!JSON.stringify(await ws.stackState()).includes(apiKey), "the API key is not in the state in plaintext");
  assert.equal((await engine.listContainers({ [LABELS.controlPlane]: `pulumi-${name}` })).length, 1, "its worker runs beside it");

  await ws.mustRun("destroy", "--yes");
  assert.equal(await engine.inspectContainer(`berth-control-plane-${name}`), undefined, "the control plane's container is gone");
  assert.equal(await engine.volumeExists(`berth-control-plane-${name}-data`), false, "and its data volume");
  assert.deepEqual(await engine.listContainers({ [LABELS.controlPlane]: `pulumi-${name}` }), [], "and every worker");
});
