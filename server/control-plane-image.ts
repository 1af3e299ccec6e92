/**
 * `berth image build`: the control plane's image, built on the local Docker engine from the installed package
 * alone (no checkout, no registry of Berth's own). The context is the bundle `npm run build` put in
 * dist/control-plane (berth.js, the Workers page, the Dockerfile) plus better-sqlite3 as npm installed it beside
 * the package: its native module was built for this host's Node 20 and glibc, which the Debian-based Node 20
 * images share. The engine's classic builder pulls the base image when the engine lacks it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DockerEngine, DockerEngineError } from "../docker-engine/engine";

export const DEFAULT_BASE_IMAGE = "node:20-bookworm-slim";

export interface ControlPlaneImageOptions {
  tag: string;
  /** A Node 20 image to build FROM. */
  baseImage: string;
  engine?: DockerEngine;
  /** Where to say what happens (the image's tag alone goes to stdout). */
  log?: (line: string) => void;
}

/** The folder of the berth package this code runs from: a checkout, or node_modules/berth. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "berth") return dir;
    if (path.dirname(dir) === dir) throw new Error(`no berth package.json above ${from}`);
  }
}

export async function buildControlPlaneImage(options: ControlPlaneImageOptions): Promise<string> {
  const engine = options.engine ?? DockerEngine.fromEnv();
  const log = options.log ?? (() => {});
  const context = fs.mkdtempSync(path.join(os.tmpdir(), "berth-image-"));
  try {
    assembleContext(packageRoot(), context);
    if (!(await engine.imageExists(options.baseImage))) {
      log(`the base image ${options.baseImage} is not on the Docker engine at ${engine.host}: the build pulls it`);
    }
    log(`building ${options.tag} FROM ${options.baseImage}`);
    await engine.buildImage({ contextDir: context, tag: options.tag, buildArgs: { BASE_IMAGE: options.baseImage } }).catch((err) => {
      if (!(err instanceof DockerEngineError)) throw err;
      throw new Error(
        `${err.message}\n  a host without a registry needs the base image loaded first (docker load -i node-20.tar), ` +
          `or --base naming a Node 20 image the engine has`,
      );
    });
    return options.tag;
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}

/**
 * Lays the control plane out in `context` as the image (and the device check, bench/gpu-check) runs it: the bundle,
 * the page's files and better-sqlite3 beside it.
 */
export function assembleContext(root: string, context: string): void {
  const bundle = path.join(root, "dist/control-plane");
  if (!fs.existsSync(path.join(bundle, "berth.js"))) {
    throw new Error(`the control plane's bundle is missing from ${bundle}: in a checkout, run \`npm run build\` first`);
  }
  fs.cpSync(bundle, context, { recursive: true });
  // better-sqlite3 finds its native module through `bindings`, which needs file-uri-to-path.
  const sqlite = moduleDir("better-sqlite3", root);
  const bindings = moduleDir("bindings", sqlite);
  const modules = path.join(context, "node_modules");
  for (const part of ["package.json", "lib", "build/Release/better_sqlite3.node"]) {
    fs.cpSync(path.join(sqlite, part), path.join(modules, "better-sqlite3", part), { recursive: true });
  }
  fs.cpSync(bindings, path.join(modules, "bindings"), { recursive: true });
  fs.cpSync(moduleDir("file-uri-to-path", bindings), path.join(modules, "file-uri-to-path"), { recursive: true });
}

/** Where npm put a package, as Node would find it from `from`. */
function moduleDir(name: string, from: string): string {
  return path.dirname(require.resolve(`${name}/package.json`, { paths: [from] }));
}
