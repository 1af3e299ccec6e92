// Berth's `pulumi new` templates (templates/docker, templates/kubernetes) as a user takes them: the real Pulumi CLI
// lays one down in a directory outside this checkout, Berth is installed there from its packed tarball (offline),
// and `pulumi preview` runs what it made. `pulumi up` and a served job are test/package/first-hour.test.ts's.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { npm, npmEnv, outsideDir, packBerth, pulumiHomeWithPlugins, REPO_ROOT } from "../helpers/berth-package";
import { TestDockerEngine } from "../helpers/docker-engine";
import { testbedEnv } from "../helpers/env";

const TEMPLATES = path.join(REPO_ROOT, "templates");
const COMMAND_TIMEOUT_MS = 5 * 60_000;
/** The files every template lays down as they are (Pulumi.yaml, package.json and README.md get the project name). */
const VERBATIM = ["index.ts", "tsconfig.json", "worker/Dockerfile", "worker/handler.py"];

interface Run {
  code: number;
  output: string;
  seconds: number;
}

/** A project `pulumi new` makes from one of the templates, in a new directory with its own file backend. */
class NewProject {
  readonly dir: string;
  private readonly root: string;
  /** Pulumi's settings for this project, which npm gets too: a dependency's install script runs `pulumi`. */
  private readonly pulumiEnv: NodeJS.ProcessEnv;

  constructor(
    readonly template: string,
    readonly name: string,
    env: NodeJS.ProcessEnv = {},
  ) {
    this.root = outsideDir(`pulumi-new-${template}`);
    this.dir = path.join(this.root, name);
    fs.mkdirSync(this.dir);
    fs.mkdirSync(path.join(this.root, "state"));
    const home = path.join(this.root, "home");
    pulumiHomeWithPlugins(home);
    this.pulumiEnv = {
      PULUMI_BACKEND_URL: `file://${path.join(this.root, "state")}`,
      PULUMI_HOME: home,
      PULUMI_CONFIG_PASSPHRASE: "berth-test-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      ...env,
    };
  }

  pulumi(...args: string[]): Promise<Run> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      execFile(
        "pulumi",
        [...args, "--non-interactive", "--color", "never"],
        // npm's offline settings as well: the npm install that `pulumi new` runs must not reach the registry either.
        { cwd: this.dir, env: npmEnv(this.pulumiEnv), timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err && typeof err.code !== "number") return reject(err);
          const code = typeof err?.code === "number" ? err.code : 0;
          resolve({ code, output: `${stdout}\n${stderr}`, seconds: (Date.now() - started) / 1000 });
        },
      );
    });
  }

  async mustPulumi(...args: string[]): Promise<Run> {
    const run = await this.pulumi(...args);
    assert.equal(run.code, 0, `pulumi ${args.join(" ")} exited ${run.code}:\n${run.output}`);
    return run;
  }

  /**
   * `pulumi new <template> --yes`: the template's files, the project, stack dev with the template's config defaults,
   * and the template's own dependencies installed with npm (offline: npmEnv).
   */
  async create(): Promise<Run> {
    const run = await this.mustPulumi("new", path.join(TEMPLATES, this.template), "--yes", "--stack", "dev", "--name", this.name);
    assert.match(run.output, /Saved config/, run.output);
    return run;
  }

  async installBerth(): Promise<number> {
    const started = Date.now();
    await npm(this.dir, ["install", await packBerth()], this.pulumiEnv);
    return (Date.now() - started) / 1000;
  }

  read(file: string): string {
    return fs.readFileSync(path.join(this.dir, file), "utf8");
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** What a text preview plans: `type name` of each resource, and the stack's output names. */
function planned(output: string): { resources: string[]; outputs: string[] } {
  const resources = [...output.matchAll(/^ \+ {2}(\S+) (\S+) create\s*$/gm)].map(([, type, name]) => `${type} ${name}`);
  const outputsBlock = output.split(/^Outputs:$/m)[1]?.split(/^Resources:$/m)[0] ?? "";
  const outputs = [...outputsBlock.matchAll(/^ {4}(\w+)\s*:/gm)].map(([, name]) => name!);
  return { resources: [...new Set(resources)].sort(), outputs: outputs.sort() };
}

const suffix = () => crypto.randomBytes(3).toString("hex");
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Checks shared by both templates: the files laid down with the project's name, its config defaults saved. */
function checkLaidDown(project: NewProject, defaults: Record<string, string>): void {
  for (const file of VERBATIM) {
    assert.equal(project.read(file), fs.readFileSync(path.join(TEMPLATES, project.template, file), "utf8"), `${file} as the template has it`);
  }
  const manifest = JSON.parse(project.read("package.json"));
  assert.equal(manifest.name, project.name);
  assert.deepEqual(manifest.dependencies, { "@pulumi/pulumi": "3.248.0" }, "Berth is installed afterwards, from wherever the user has it");
  assert.match(project.read("Pulumi.yaml"), new RegExp(`^name: ${project.name}$`, "m"));
  assert.doesNotMatch(project.read("Pulumi.yaml"), /^template:/m, "the template section stays in the template");
  assert.match(project.read("README.md"), new RegExp(`^# ${project.name}$`, "m"));
  // The template's config keys carry no namespace; Pulumi saves them in the project's.
  const stackConfig = project.read("Pulumi.dev.yaml");
  for (const [key, value] of Object.entries(defaults)) {
    assert.match(stackConfig, new RegExp(`^  ${project.name}:${key}: "?${escaped(value)}"?$`, "m"), `${key} defaults to ${value}`);
  }
}

/** The API key as the templates' READMEs set it: stored encrypted, never in plaintext. */
async function setApiKey(project: NewProject): Promise<void> {
  const apiKey = crypto.randomBytes(24).toString("hex");
  // `pulumi new -c apiKey=...` would save it in plaintext: the template's `secret: true` applies to its prompt only.
  await project.mustPulumi("config", "set", "--secret", "apiKey", apiKey);
  const stackConfig = project.read("Pulumi.dev.yaml");
  assert.ok(!stackConfig.includes(apiKey), "the key is not in Pulumi.dev.yaml in plaintext");
  assert.match(stackConfig, new RegExp(`^  ${project.name}:apiKey:\\n {4}secure: v1:`, "m"));
}

// The two templates side by side (each mostly waits on npm); the steps of each in order.
describe("pulumi new templates", { concurrency: true }, () => {
  before(() => packBerth());

  describe("templates/docker", { concurrency: false }, () => {
    const project = new NewProject("docker", `berth-docker-${suffix()}`);
    const engine = TestDockerEngine.fromEnv();
    const workerTag = `${project.name}-worker:test`;
    after(async () => {
      project.remove();
      await engine.removeImage(workerTag);
    });

    test("pulumi new lays down the template, saves its defaults, and the API key goes in encrypted", async (t) => {
      t.diagnostic(`pulumi new: ${(await project.create()).seconds} s`);
      checkLaidDown(project, { controlPlaneImage: "berth/control-plane:0.1.0", port: "8910", gpuTypeIds: "ADA_24" });
      // Empty defaults are not saved: no simulated GPUs, and the program's <project>-worker:latest.
      assert.doesNotMatch(project.read("Pulumi.dev.yaml"), /simulatedGpus|workerImage/);
      await setApiKey(project);
    });

    test("with Berth installed from its tarball, preview plans the control plane, template and endpoint", async (t) => {
      t.diagnostic(`npm install <berth tarball>: ${await project.installBerth()} s`);
      const preview = await project.mustPulumi("preview");
      t.diagnostic(`pulumi preview: ${preview.seconds} s`);
      assert.deepEqual(planned(preview.output), {
        resources: [
          "pulumi-nodejs:dynamic/berth:ControlPlane control-plane",
          "pulumi-nodejs:dynamic/berth:Endpoint hello",
          "pulumi-nodejs:dynamic/berth:Template worker",
          `pulumi:pulumi:Stack ${project.name}-dev`,
        ],
        outputs: ["clientBaseUrl", "controlPlaneUrl", "endpointId"],
      });
    });

    test("a GPU pool id Berth does not know fails the preview, naming gpuTypeIds", async () => {
      await project.mustPulumi("config", "set", "gpuTypeIds", "ADA_24,NOT_A_POOL");
      const preview = await project.pulumi("preview");
      await project.mustPulumi("config", "set", "gpuTypeIds", "ADA_24");
      assert.notEqual(preview.code, 0, preview.output);
      assert.match(preview.output, /gpuTypeIds\.1: unknown GPU type or pool id "NOT_A_POOL"/);
    });

    test("the worker's Dockerfile builds offline on a base image with runpod, and its handler greets", async (t) => {
      const started = Date.now();
      const buildArgs = { BASE_IMAGE: testbedEnv("BERTH_RUNPOD_PYTHON_IMAGE") };
      await engine.buildImage({ contextDir: path.join(project.dir, "worker"), tag: workerTag, buildArgs });
      t.diagnostic(`worker image build: ${(Date.now() - started) / 1000} s`);
      // runpod-python's local mode runs the one job given and exits.
      const cmd = ["python", "-u", "/opt/worker/handler.py", "--test_input", JSON.stringify({ input: { name: "Ada" } })];
      const run = await engine.run({ image: workerTag, cmd, hostConfig: { NetworkMode: "none" } });
      assert.equal(run.exitCode, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(`${run.stdout}\n${run.stderr}`, /Job result: \{'output': \{'greeting': 'Hello, Ada!'\}\}/);
    });
  });

  describe("templates/kubernetes", { concurrency: false }, () => {
    const project = new NewProject("kubernetes", `berth-kubernetes-${suffix()}`, { KUBECONFIG: testbedEnv("BERTH_KUBECONFIG") });
    after(() => project.remove());

    test("pulumi new lays down the template, saves its defaults, and the API key goes in encrypted", async (t) => {
      t.diagnostic(`pulumi new: ${(await project.create()).seconds} s`);
      checkLaidDown(project, {
        namespace: "berth",
        controlPlaneImage: "berth/control-plane:0.1.0",
        controlPlaneUrl: "http://127.0.0.1:8910",
        gpuTypeIds: "ADA_24",
      });
      await setApiKey(project);
    });

    test("with Berth installed from its tarball, preview plans the control plane's Kubernetes objects, template and endpoint", async (t) => {
      // The nodes pull the worker image, so it has no default; a namespace of its own keeps clear of other tests'.
      await project.mustPulumi("config", "set", "workerImage", `${testbedEnv("BERTH_REGISTRY")}/${project.name}-worker:1`);
      await project.mustPulumi("config", "set", "namespace", project.name);
      t.diagnostic(`npm install <berth tarball>: ${await project.installBerth()} s`);
      const preview = await project.mustPulumi("preview");
      t.diagnostic(`pulumi preview: ${preview.seconds} s`);
      assert.deepEqual(planned(preview.output), {
        resources: [
          "berth:index:KubernetesControlPlane berth",
          "kubernetes:apps/v1:Deployment berth",
          "kubernetes:core/v1:Namespace berth",
          "kubernetes:core/v1:PersistentVolumeClaim berth",
          "kubernetes:core/v1:Secret berth",
          "kubernetes:core/v1:Service berth",
          "kubernetes:core/v1:ServiceAccount berth",
          "kubernetes:rbac.authorization.k8s.io/v1:Role berth",
          "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding berth",
          "pulumi-nodejs:dynamic/berth:Endpoint hello",
          "pulumi-nodejs:dynamic/berth:Template worker",
          `pulumi:pulumi:Stack ${project.name}-dev`,
        ],
        outputs: ["clientBaseUrl", "controlPlaneUrl", "endpointId"],
      });
    });
  });
});
