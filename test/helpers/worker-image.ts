import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { TestDockerEngine } from "./docker-engine";
import { testbedEnv } from "./env";

const FIXTURE = path.resolve(__dirname, "../fixtures/worker-image");
const PYTHON_WORKERS = path.resolve(__dirname, "../fixtures/python-workers");

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

/**
 * Builds (once per content) a runpod-python worker image: a handler of test/fixtures/python-workers (`script`,
 * worker.py unless named, copied in as worker.py) on the test bed's runpod-python base image (Debian's python3 and
 * the runpod package from PyPI, testbed/python.sh). No step needs the network.
 */
export async function ensurePythonWorkerImage(engine = TestDockerEngine.fromEnv(), script = "worker.py"): Promise<string> {
  const baseImage = testbedEnv("BERTH_RUNPOD_PYTHON_IMAGE");
  const hash = crypto.createHash("sha256");
  for (const file of [script, "Dockerfile"]) hash.update(fs.readFileSync(path.join(PYTHON_WORKERS, file)));
  hash.update(baseImage);
  const tag = `berth/test-python-worker:${hash.digest("hex").slice(0, 12)}`;
  if (!(await engine.imageExists(tag))) {
    const context = fs.mkdtempSync(path.join(os.tmpdir(), "berth-python-worker-"));
    try {
      fs.copyFileSync(path.join(PYTHON_WORKERS, script), path.join(context, "worker.py"));
      fs.copyFileSync(path.join(PYTHON_WORKERS, "Dockerfile"), path.join(context, "Dockerfile"));
      await engine.buildImage({ contextDir: context, tag, buildArgs: { BASE_IMAGE: baseImage } });
    } finally {
      fs.rmSync(context, { recursive: true, force: true });
    }
  }
  return tag;
}

/** `image`, tagged into the test bed's registry (where the real node pulls from) and pushed there: its new name. */
export function pushedToRegistry(image: string, tag?: string): string {
  const name = `${testbedEnv("BERTH_REGISTRY")}/${tag ? `${image.split(":")[0]}:${tag}` : image}`;
  execFileSync("docker", ["tag", image, name]);
  execFileSync("docker", ["push", "-q", name], { stdio: "pipe" });
  return name;
}
