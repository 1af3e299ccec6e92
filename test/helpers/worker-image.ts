import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { TestDockerEngine } from "./docker-engine";
import { testbedEnv } from "./env";

const FIXTURE = path.resolve(__dirname, "../fixtures/worker-image");

/**
 * Builds (once per content) the test worker image: test/fixtures/worker-image/handler.ts and Berth's worker SDK
 * bundled by esbuild into one file, on the test bed's Node base image. The tag carries a hash of the bundle and
 * the base image, so a changed handler or SDK gets a new image and an unchanged one is reused across runs.
 */
export async function ensureWorkerImage(engine = TestDockerEngine.fromEnv()): Promise<string> {
  const baseImage = testbedEnv("BERTH_NODE_IMAGE");
  const context = fs.mkdtempSync(path.join(os.tmpdir(), "berth-worker-image-"));
  try {
    await build({
      entryPoints: [path.join(FIXTURE, "handler.ts")],
      outfile: path.join(context, "worker.js"),
      bundle: true,
      platform: "node",
      target: "node20",
      logLevel: "error",
    });
    fs.copyFileSync(path.join(FIXTURE, "Dockerfile"), path.join(context, "Dockerfile"));
    const hash = crypto.createHash("sha256");
    for (const file of ["worker.js", "Dockerfile"]) hash.update(fs.readFileSync(path.join(context, file)));
    hash.update(baseImage);
    const tag = `berth/test-worker:${hash.digest("hex").slice(0, 12)}`;
    if (!(await engine.imageExists(tag))) {
      await engine.buildImage({ contextDir: context, tag, buildArgs: { BASE_IMAGE: baseImage } });
    }
    return tag;
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}
