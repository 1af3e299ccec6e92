// The README's "Your own GPU host", step by step, as a new user follows it in empty directories outside this
// checkout: install the package globally, `berth doctor`, `berth image build`, `pulumi new` from the installed
// template, Berth into the project, the worker's image, `pulumi up`, a job, its logs, `pulumi destroy`. What
// differs from the README is only what this offline machine needs: npm runs offline from its cache, `npm -g`
// installs under a temporary prefix, the images build FROM the test bed's local bases, and the host has no GPUs,
// so the stack declares a simulated one, as the README tells a GPU-less host to. Each step's time is reported.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { LABELS } from "../../docker-engine/labels";
import { npm, npmEnv, outsideDir, packBerth, pulumiHomeWithPlugins } from "../helpers/berth-package";
import { TestDockerEngine } from "../helpers/docker-engine";
import { testbedEnv } from "../helpers/env";
import { freePort } from "../helpers/load-balancer";
import { ReadmeSession } from "../helpers/readme-session";

const PROJECT = "gpu-endpoints";

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

test("the first hour on a GPU host: from an empty directory to a served job with the installed package alone", async (t) => {
  const home = outsideDir("first-hour");
  const globalPrefix = path.join(home, "global");
  const session = new ReadmeSession(
    npmEnv({
      // `npm install -g` under a prefix of its own, whose bin/ comes first, as a user's global bin directory does.
      npm_config_prefix: globalPrefix,
      PATH: `${path.join(globalPrefix, "bin")}${path.delimiter}${process.env.PATH}`,
      PULUMI_HOME: pulumiHomeWithPlugins(path.join(home, ".pulumi")),
      PULUMI_CONFIG_PASSPHRASE: "first-hour-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      DOCKER_BUILDKIT: "0",
    }),
  );
  const tarball = await packBerth();

  await session.step("npm install -g <tarball>", () => session.mustRun(home, "npm", ["install", "-g", tarball]));
  assert.equal(fs.realpathSync(path.join(globalPrefix, "bin/berth")), path.join(globalPrefix, "lib/node_modules/berth/bin/berth"));

  const doctor = await session.step("berth doctor", () => session.run(home, "berth", ["doctor"]));
  assert.equal(doctor.code, 0, `berth doctor failed on a host that can run Berth:\n${doctor.stdout}${doctor.stderr}`);
  assert.match(doctor.stdout, /^OK +docker/im);
  assert.match(doctor.stdout, /--simulated-gpus/, "a host without GPUs is told how to try Berth anyway");

  const image = await session.step("berth image build", () =>
    session.mustRun(home, "berth", ["image", "build", "--base", testbedEnv("BERTH_NODE_IMAGE")]),
  );
  assert.equal(image.trim(), "berth/control-plane:0.1.0");

  const project = path.join(home, PROJECT);
  fs.mkdirSync(project);
  await session.mustRun(project, "pulumi", ["login", `file://${home}`]);
  const templates = path.join((await session.mustRun(project, "npm", ["root", "-g"])).trim(), "berth/templates");
  const apiKey = crypto.randomBytes(24).toString("hex");
  // `--yes` takes the defaults and leaves out the key, which has none (asked for, a prompt would keep it encrypted).
  await session.step("pulumi new <installed template>", () =>
    session.mustRun(project, "pulumi", ["new", path.join(templates, "docker"), "--stack", "dev", "--yes", "--non-interactive"]),
  );
  await session.mustRun(project, "pulumi", ["config", "set", "--secret", "apiKey", apiKey]);
  assert.doesNotMatch(fs.readFileSync(path.join(project, "Pulumi.dev.yaml"), "utf8"), new RegExp(apiKey), "the key is kept encrypted");

  await session.step("npm install <tarball> (the project)", () => npm(project, ["install", tarball], session.env));

  const workerImage = `${PROJECT}-worker:latest`;
  await session.step("docker build worker/", () =>
    session.mustRun(project, "docker", ["build", "-q", "--build-arg", `BASE_IMAGE=${testbedEnv("BERTH_RUNPOD_PYTHON_IMAGE")}`, "-t", workerImage, "worker/"]),
  );
  const engine = TestDockerEngine.fromEnv();
  cleanups.push(() => engine.removeImage(workerImage));

  // This host has no GPUs: the README's line for such a host. A free port keeps clear of anything else here.
  await session.mustRun(project, "pulumi", ["config", "set", "simulatedGpus", "NVIDIA GeForce RTX 4090=1"]);
  await session.mustRun(project, "pulumi", ["config", "set", "port", String(await freePort())]);
  cleanups.push(() => session.run(project, "pulumi", ["destroy", "--yes", "--non-interactive"]));
  await session.step("pulumi up", () => session.mustRun(project, "pulumi", ["up", "--yes", "--non-interactive"]));

  const output = async (name: string) => (await session.mustRun(project, "pulumi", ["stack", "output", name])).trim();
  const [clientBaseUrl, endpointId, controlPlaneUrl] = [await output("clientBaseUrl"), await output("endpointId"), await output("controlPlaneUrl")];
  const key = (await session.mustRun(project, "pulumi", ["config", "get", "apiKey"])).trim();
  assert.equal(key, apiKey);

  const job = await session.step("first job (runsync, worker cold start)", async () => {
    const res = await fetch(`${clientBaseUrl}/${endpointId}/runsync?wait=120000`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ input: { name: "GPU" } }),
    });
    return (await res.json()) as { status: string; output?: unknown };
  });
  assert.equal(job.status, "COMPLETED", JSON.stringify(job));
  assert.deepEqual(job.output, { greeting: "Hello, GPU!" });

  const cli = { BERTH_URL: controlPlaneUrl, BERTH_API_KEY: key };
  const workers = await session.mustRun(project, "berth", ["workers", endpointId], cli);
  assert.match(workers, /sim-0 \(simulated\)/, "the worker holds the simulated GPU, and says so");
  const logs = await session.mustRun(project, "berth", ["logs", endpointId], cli);
  assert.ok(logs.trim().split("\n").length > 0 && logs.includes("stdout"), `the worker's lines:\n${logs}`);
  const checked = await session.run(project, "berth", ["doctor"], cli);
  assert.equal(checked.code, 0, checked.stdout);
  assert.match(checked.stdout, /^OK +control plane/im);

  await session.step("pulumi destroy", () => session.mustRun(project, "pulumi", ["destroy", "--yes", "--non-interactive"]));
  assert.deepEqual(await engine.listContainers({ [LABELS.controlPlane]: "pulumi-control-plane" }), []);

  // One line each in the runner's output, for the record (README "Your own GPU host" quotes them).
  for (const line of session.table("first hour, step by step:")) t.diagnostic(line);
});
