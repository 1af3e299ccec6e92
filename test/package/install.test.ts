// Berth installed as a user installs it, into an empty project outside this checkout: from the tarball `npm pack`
// makes, and from a git URL (npm clones it, runs its prepare script, which builds, and installs the result). Each
// gives a working `berth` CLI, the control plane and the Pulumi resources, with nothing pointing back at the clone.
// The git URL is this checkout's HEAD commit: what is not committed is not in it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { TestDockerEngine } from "../helpers/docker-engine";
import { REPO_ROOT, emptyProject, npm, packBerth } from "../helpers/berth-package";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { missingImage, testbedEnv } from "../helpers/env";

const run = promisify(execFile);
const VERSION: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).version;

/** Every path under `dir` that is a symlink leading into the checkout. */
function linksIntoCheckout(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isSymbolicLink() && path.resolve(entry.parentPath, fs.readlinkSync(full)).startsWith(REPO_ROOT + path.sep)) found.push(full);
  }
  return found;
}

/** What an installed Berth must give its project: the CLI, the resources, and no way back to the checkout. */
async function assertWorkingInstall(project: string): Promise<void> {
  const installed = path.join(project, "node_modules/berth");
  assert.ok(fs.lstatSync(installed).isDirectory(), `${installed} is a directory, not a link`);
  assert.deepEqual(linksIntoCheckout(path.join(project, "node_modules")), []);
  // The templates are TypeScript programs for `pulumi new` to copy; nothing else is.
  const sources = fs.readdirSync(installed, { recursive: true }).map(String)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.startsWith("templates/"));
  assert.deepEqual(sources, [], "the package ships built code, no TypeScript source");

  const berth = path.join(project, "node_modules/.bin/berth");
  assert.equal((await run(berth, ["--version"], { cwd: project })).stdout.trim(), VERSION);
  const help = (await run(berth, ["--help"], { cwd: project })).stdout;
  for (const command of ["server", "image", "doctor", "logs", "keys"]) assert.match(help, new RegExp(`^  ${command}\\b`, "m"), help);

  const probe = `
    const berth = require("berth");
    const { KubernetesControlPlane } = require("berth/kubernetes");
    console.log(JSON.stringify({
      resources: ["ControlPlane", "Template", "Endpoint", "NetworkVolume", "ApiKey"].filter((name) => typeof berth[name] === "function"),
      kubernetes: typeof KubernetesControlPlane,
      from: require.resolve("berth"),
    }));`;
  const loaded = JSON.parse((await run("node", ["-e", probe], { cwd: project })).stdout);
  assert.deepEqual(loaded.resources, ["ControlPlane", "Template", "Endpoint", "NetworkVolume", "ApiKey"]);
  assert.equal(loaded.kubernetes, "function");
  assert.equal(fs.realpathSync(loaded.from), path.join(fs.realpathSync(installed), "dist/sdk/index.js"));
}

/** The installed CLI runs a control plane: its API answers and it serves the Workers page from the bundle. */
async function assertServes(project: string): Promise<void> {
  const server = await ControlPlaneProcess.start({ bin: path.join(project, "node_modules/berth/bin/berth") });
  try {
    const page = await fetch(`${server.url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const endpoints = await fetch(`${server.url}/admin/endpoints`, { headers: { Authorization: `Bearer ${server.apiKey}` } });
    assert.equal(endpoints.status, 200);
  } finally {
    await server.stop();
    await server.removeData();
  }
}

test("npm pack gives a tarball with the built CLI, the control plane's bundle and the templates, and no source", async () => {
  const tarball = await packBerth();
  const { stdout } = await run("tar", ["-tzf", tarball]);
  const files = stdout.split("\n").filter(Boolean);
  for (const file of [
    "package/bin/berth",
    "package/dist/sdk/index.js",
    "package/dist/sdk/kubernetes.js",
    "package/dist/control-plane/berth.js",
    "package/dist/control-plane/Dockerfile",
    "package/dist/control-plane/ui/index.html",
    "package/templates/docker/Pulumi.yaml",
    "package/templates/kubernetes/Pulumi.yaml",
  ]) {
    assert.ok(files.includes(file), `${file} is in the tarball`);
  }
  assert.deepEqual(files.filter((f) => f.startsWith("package/test/") || f.startsWith("package/server/")), []);
});

test("npm install of the tarball into an empty project: the CLI, the control plane, the resources and its image", async () => {
  const project = await emptyProject("tarball");
  await npm(project, ["install", await packBerth()]);
  await assertWorkingInstall(project);
  await assertServes(project);

  const berth = path.join(project, "node_modules/.bin/berth");
  const tag = "berth/control-plane:installed-package-test";
  const base = testbedEnv("BERTH_NODE_IMAGE");
  const built = await run(berth, ["image", "build", "--tag", tag, "--base", base], { cwd: project });
  assert.equal(built.stdout.trim(), tag);
  assert.match(built.stderr, new RegExp(`building ${tag} FROM ${base}`));
  const engine = TestDockerEngine.fromEnv();
  const version = await engine.run({ image: tag, cmd: ["--version"] });
  assert.equal(version.exitCode, 0, version.stderr);
  assert.equal(version.stdout.trim(), VERSION);
  await engine.removeImage(tag);

  // A base the engine lacks and cannot pull (on the test bed's registry, so the pull fails on loopback).
  const missing = missingImage("node-base");
  const failed = await run(berth, ["image", "build", "--tag", tag, "--base", missing], { cwd: project }).catch((err) => err);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, new RegExp(`the base image ${missing.replace(/[.]/g, "\\.")} is not on the Docker engine`));
  assert.match(failed.stderr, /a host without a registry needs the base image loaded first \(docker load/);
});

test("npm install of a git URL builds the package and gives the same", async () => {
  const project = await emptyProject("git");
  await npm(project, ["install", `git+file://${REPO_ROOT}`]);
  await assertWorkingInstall(project);
});
