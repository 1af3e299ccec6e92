import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { DockerEngine, DockerEngineError } from "../docker-engine/engine";
import { TestDockerEngine } from "./helpers/docker-engine";
import { testbedEnv } from "./helpers/env";
import { freshDatabase } from "./helpers/postgres";
import { PulumiWorkspace } from "./helpers/pulumi-cli";

const FIXTURES = path.join(__dirname, "fixtures");

describe("test bed: Pulumi CLI with a dynamic resource", () => {
  let workspace: PulumiWorkspace;
  let markerPath: string;

  before(async () => {
    workspace = await PulumiWorkspace.create(path.join(FIXTURES, "pulumi-smoke"), "smoke");
    markerPath = path.join(workspace.dir, "..", "marker.txt");
    await workspace.mustRun("config", "set", "path", markerPath);
  });
  after(() => workspace?.remove());

  test("preview shows the resource to create and creates nothing", async () => {
    const { stdout } = await workspace.mustRun("preview", "--diff");
    assert.match(stdout, /\+ pulumi-nodejs:dynamic\/berth-smoke:LocalFile: \(create\)/);
    assert.match(stdout, /content\s*: "hello from the berth test bed"/);
    assert.equal(fs.existsSync(markerPath), false);
  });

  test("up creates the resource through the dynamic provider", async () => {
    const { stdout } = await workspace.mustRun("up", "--yes", "--skip-preview");
    assert.match(stdout, /\+ 2 created/);
    assert.equal(fs.readFileSync(markerPath, "utf8"), "hello from the berth test bed");
  });

  test("a second up changes nothing", async () => {
    const { stdout } = await workspace.mustRun("up", "--yes", "--expect-no-changes");
    assert.match(stdout, /2 unchanged/);
  });

  test("refresh reads the real resource and records drift", async () => {
    fs.writeFileSync(markerPath, "changed outside pulumi");
    const { stdout } = await workspace.mustRun("refresh", "--yes");
    assert.match(stdout, /~ 1 updated/);
    const state = await workspace.stackState();
    const file = state.deployment.resources?.find((r) => r.type === "pulumi-nodejs:dynamic/berth-smoke:LocalFile");
    assert.equal(file?.outputs?.content, "changed outside pulumi");
  });

  test("destroy deletes the resource", async () => {
    const { stdout } = await workspace.mustRun("destroy", "--yes");
    assert.match(stdout, /- 2 deleted/);
    assert.equal(fs.existsSync(markerPath), false);
  });
});

describe("test bed: Docker engine with the local base image", () => {
  const engine = TestDockerEngine.fromEnv();
  const image = "berth-smoke/hello:test";

  test("an image built FROM the local Node base runs, and its output and exit code come back", async () => {
    await engine.buildImage({
      contextDir: path.join(FIXTURES, "hello-image"),
      tag: image,
      buildArgs: { BASE_IMAGE: testbedEnv("BERTH_NODE_IMAGE") },
    });
    const result = await engine.run({
      image,
      env: { GREETING: "ahoy", EXIT_CODE: "3" },
      labels: { "berth.dev/test": "testbed-smoke" },
    });
    assert.equal(result.exitCode, 3);
    assert.deepEqual(JSON.parse(result.stdout), { greeting: "ahoy", node: process.version });
    assert.equal(result.stderr, "to stderr\n");
  });

  test("a build that fails reports the engine's error", async () => {
    await assert.rejects(
      engine.buildImage({
        contextDir: path.join(FIXTURES, "hello-image"),
        tag: "berth-smoke/broken:test",
        dockerfile: "Missing.Dockerfile",
      }),
      (err: unknown) => err instanceof DockerEngineError && /Missing\.Dockerfile/.test(err.message),
    );
  });

  test("an engine that does not answer is named in the error", async () => {
    const dead = DockerEngine.fromEnv({ DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    await assert.rejects(dead.ping(), /Docker engine at unix:\/\/\/nonexistent\/docker.sock: GET \/_ping failed: engine unreachable/);
  });
});

describe("test bed: PostgreSQL", () => {
  test("answers on loopback with password authentication, version 15 or newer, and makes databases for tests", async () => {
    const url = new URL(testbedEnv("BERTH_TEST_DATABASE_URL"));
    assert.equal(url.hostname, "127.0.0.1");
    const database = await freshDatabase("smoke");
    const sql = postgres(database.url, { max: 1 });
    try {
      const [row] = await sql<Array<{ major: number; db: string }>>`SELECT current_setting('server_version_num')::int / 10000 AS major, current_database() AS db`;
      assert.ok(row!.major >= 15, `PostgreSQL ${row!.major}`);
      assert.equal(row!.db, database.name);
    } finally {
      await sql.end();
      await database.drop();
    }
    const wrong = new URL(url);
    wrong.password = "not-the-password";
    const refused = postgres(wrong.toString(), { max: 1 });
    await assert.rejects(refused`SELECT 1`, /password authentication failed/);
    await refused.end();
  });
});
