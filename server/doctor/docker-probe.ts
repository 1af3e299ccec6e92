/** The Docker host's probes: the engine and its API version, the NVIDIA Container Toolkit, free disk for images. */
import fs from "node:fs";
import path from "node:path";
import { DEFAULT_DOCKER_HOST, dockerConnection, type DockerEnv } from "../../docker-engine/connection";
import { DockerEngine } from "../../docker-engine/engine";
import type { ContainerToolkitFacts, DiskFacts, DockerEngineFacts, Probed } from "./facts";
import { probe } from "./probe";

export async function probeDockerEngine(env: DockerEnv, timeoutMs: number): Promise<DockerEngineFacts> {
  const host = env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  let engine: DockerEngine;
  try {
    engine = new DockerEngine(dockerConnection(env));
  } catch (err) {
    // A DOCKER_HOST that is not a URL, or TLS files that cannot be read: the message says which.
    return { host, version: { ok: false, error: (err as Error).message } };
  }
  const version = await probe(timeoutMs, async () => {
    const answer = await engine.version(timeoutMs);
    return { version: answer.Version, apiVersion: answer.ApiVersion };
  });
  if (!version.ok) return { host, version };
  const info = await probe(timeoutMs, async () => {
    const answer = await engine.info(timeoutMs);
    return { rootDir: answer.DockerRootDir, runtimes: Object.keys(answer.Runtimes ?? {}), cdiSpecDirs: answer.CDISpecDirs ?? [] };
  });
  return { host, version, info };
}

/** What Docker's "nvidia" device driver runs; the engine registers that driver only when it finds this on its PATH. */
const NVIDIA_HOOK = "nvidia-container-runtime-hook";
/** The engine's PATH is not ours: a daemon started by systemd has these whatever the shell's PATH says. */
const DAEMON_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
/** Where CDI specs live when the engine does not say (the CDI specification's defaults). */
const CDI_DIRS = ["/etc/cdi", "/var/run/cdi"];
/** A CDI spec is a few KiB; a larger file in a spec directory is not read whole. */
const CDI_SPEC_MAX_BYTES = 1024 * 1024;

/** Looks on this host, so it holds only where the engine runs here too (a unix socket, or tcp to localhost). */
export function probeContainerToolkit(cdiSpecDirs: readonly string[], searchPath = process.env.PATH ?? ""): ContainerToolkitFacts {
  const dirs = [...new Set([...searchPath.split(path.delimiter).filter(Boolean), ...DAEMON_PATH])];
  const hook = dirs.map((dir) => path.join(dir, NVIDIA_HOOK)).find(isExecutable);
  const cdiSpecs = [...new Set([...cdiSpecDirs, ...CDI_DIRS])].flatMap((dir) => specFiles(dir)).filter(describesNvidiaGpus);
  return { hook, cdiSpecs };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function specFiles(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((name) => /\.(json|ya?ml)$/.test(name))
      .map((name) => path.join(dir, name));
  } catch {
    return []; // no such directory, or not ours to read: nothing found there
  }
}

function describesNvidiaGpus(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile() || stat.size > CDI_SPEC_MAX_BYTES) return false;
    return fs.readFileSync(file, "utf8").includes("nvidia.com/gpu");
  } catch {
    return false;
  }
}

/** True when DOCKER_HOST names an engine on this machine, whose root dir and hook paths mean something here. */
export function engineIsLocal(host: string): boolean {
  try {
    const url = new URL(host);
    return url.protocol === "unix:" || ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}

/**
 * Free space where the engine keeps images: its root dir when this process can see it, else "/" (and why).
 * An engine on another machine keeps its images there, which no statfs here can measure: an error that says so.
 */
export function probeDisk(host: string, rootDir: string | undefined): Probed<DiskFacts> {
  if (!engineIsLocal(host)) {
    return { ok: false, error: `the Docker engine at ${host} is on another machine, whose disk cannot be measured from here` };
  }
  let fallback = "the Docker engine did not say where it keeps images";
  if (rootDir) {
    try {
      return { ok: true, value: measure(rootDir) };
    } catch (err) {
      // Docker Desktop and rootless engines keep their root dir in a VM or another mount namespace.
      fallback = `the engine's root dir ${rootDir} is not visible from here (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
  }
  try {
    return { ok: true, value: { ...measure("/"), fallback } };
  } catch (err) {
    return { ok: false, error: `statfs / failed: ${(err as Error).message}` };
  }
}

function measure(dir: string): DiskFacts {
  const stats = fs.statfsSync(dir);
  return { path: dir, freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
}
