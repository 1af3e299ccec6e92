import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import axios, { type AxiosInstance, type AxiosResponse } from "axios";
import { pack } from "tar-stream";
import { dockerConnection, type DockerConnection, type DockerEnv } from "./connection";
import { demultiplexLogs, type ContainerOutput } from "./log-stream";

/** A failed call to the Docker Engine API, naming the engine, the call and what the engine said. */
export class DockerEngineError extends Error {
  constructor(
    readonly host: string,
    readonly call: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`Docker engine at ${host}: ${call} failed${status ? ` (HTTP ${status})` : ""}: ${detail}`);
    this.name = "DockerEngineError";
  }
}

export interface ContainerSpec {
  name?: string;
  image: string;
  cmd?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  hostConfig?: HostConfig;
}

/** The part of a container's HostConfig that Berth sets, in the Engine API's own field names. */
export interface HostConfig {
  Memory?: number;
  MemorySwap?: number;
  NetworkMode?: string;
  Init?: boolean;
  Mounts?: { Type: "volume" | "bind"; Source: string; Target: string }[];
  RestartPolicy?: { Name: "no" | "always" | "unless-stopped" | "on-failure" };
  DeviceRequests?: { Driver: string; DeviceIDs: string[]; Capabilities: string[][] }[];
}

export interface BuildSpec {
  /** Directory sent as the build context. */
  contextDir: string;
  tag: string;
  dockerfile?: string;
  buildArgs?: Record<string, string>;
}

/** The fields of `GET /info` that Berth reads. */
export interface EngineInfo {
  MemTotal: number;
  /** Where the engine keeps images and containers, on its own host. */
  DockerRootDir?: string;
  /** The OCI runtimes it was configured with, by name ("runc", "nvidia", ...). */
  Runtimes?: Record<string, unknown>;
  /** Where it reads CDI device specs from (Engine 25+ with CDI enabled); absent or null otherwise. */
  CDISpecDirs?: string[] | null;
}

/** The fields of `GET /version` that Berth reads. */
export interface EngineVersion {
  /** The engine's release, e.g. "27.3.1". */
  Version: string;
  /** The newest Engine API version it speaks, e.g. "1.47". */
  ApiVersion: string;
}

/** A file (or, without content, a directory) written into a container by `writeFiles`, owned by root. */
export interface ContainerFile {
  /** Relative to the directory it is written into. */
  name: string;
  content?: string;
  mode: number;
}

/** A container's state as inspect reports it ("created", "running", "paused", "restarting", "removing", "exited", "dead"). */
export interface ContainerState {
  Status: string;
  Paused: boolean;
  OOMKilled: boolean;
  ExitCode: number;
  /** Why the engine could not start it; empty otherwise. */
  Error: string;
}

/** The fields of `GET /containers/{id}/json` that Berth reads. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  /** RFC 3339, with nanoseconds. */
  Created: string;
  State: ContainerState;
  Config: { Cmd: string[] | null; Env: string[]; Labels: Record<string, string> | null };
  HostConfig: HostConfig;
}

/** One entry of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  /** The state's Status word, as in ContainerState. */
  State: string;
  Labels: Record<string, string> | null;
}

/**
 * A small client for the Docker Engine API over its unix socket or TCP, through axios.
 * Only the calls Berth makes are here (test/helpers/docker-engine.ts adds those only tests make, on `call`);
 * each error carries the engine address and the call that failed.
 */
export class DockerEngine {
  private readonly http: AxiosInstance;
  readonly host: string;

  constructor(connection: DockerConnection = dockerConnection()) {
    this.host = connection.host;
    this.http = axios.create({ ...connection.axios, validateStatus: () => true, maxRedirects: 0 });
  }

  /** An engine client of this class (a subclass's too) for the engine the environment names. */
  static fromEnv<T extends DockerEngine>(this: new (connection: DockerConnection) => T, env: DockerEnv = process.env): T {
    return new this(dockerConnection(env));
  }

  async ping(): Promise<void> {
    await this.call("GET /_ping", { method: "GET", url: "/_ping" });
  }

  /** `timeoutMs` bounds the wait for an engine that accepts the connection but does not answer (`berth doctor`). */
  async info(timeoutMs?: number): Promise<EngineInfo> {
    return (await this.call("GET /info", { method: "GET", url: "/info", timeout: timeoutMs })).data;
  }

  /** The engine's release and the newest Engine API version it speaks, which is the one Berth's unversioned calls get. */
  async version(timeoutMs?: number): Promise<EngineVersion> {
    return (await this.call("GET /version", { method: "GET", url: "/version", timeout: timeoutMs })).data;
  }

  async imageExists(image: string): Promise<boolean> {
    const res = await this.call(`GET /images/${image}/json`, {
      method: "GET",
      url: `/images/${encodeURIComponent(image)}/json`,
      acceptStatus: [404],
    });
    return res.status === 200;
  }

  /**
   * Pulls an image from its registry. The engine streams progress as JSON lines and reports a failure that comes
   * after the first line inside the 200 response, so those are read too. `idleTimeoutMs` bounds how long the engine
   * may stay silent (a registry that does not answer), not the whole pull: a large image pulls for minutes.
   */
  async pullImage(image: string, idleTimeoutMs: number): Promise<void> {
    const { name, tag } = splitImageReference(image);
    const call = `POST /images/create (${image})`;
    const res = await this.call(call, {
      method: "POST",
      url: "/images/create",
      params: { fromImage: name, tag },
      responseType: "text",
      timeout: idleTimeoutMs,
    });
    throwStreamedError(this.host, call, res);
  }

  /**
   * Builds an image with the engine's classic builder from a directory, streamed as a tar archive.
   * The engine reports build failures inside a 200 response, one JSON message per line, so those are read too.
   */
  async buildImage(spec: BuildSpec): Promise<void> {
    const tar = spawn("tar", ["-C", spec.contextDir, "-c", "."], { stdio: ["ignore", "pipe", "pipe"] });
    let tarError = "";
    tar.stderr.on("data", (chunk: Buffer) => (tarError += chunk.toString()));
    const tarExit = new Promise<number | null>((resolve) => tar.on("close", resolve));

    const call = `POST /build (${spec.tag})`;
    const res = await this.call(call, {
      method: "POST",
      url: "/build",
      params: {
        t: spec.tag,
        dockerfile: spec.dockerfile ?? "Dockerfile",
        buildargs: JSON.stringify(spec.buildArgs ?? {}),
        rm: 1,
        forcerm: 1,
      },
      headers: { "Content-Type": "application/x-tar" },
      data: tar.stdout,
      responseType: "text",
    });
    if ((await tarExit) !== 0) {
      throw new DockerEngineError(this.host, call, undefined, `tar of ${spec.contextDir} failed: ${tarError.trim()}`);
    }
    throwStreamedError(this.host, call, res);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const res = await this.call(`POST /containers/create (${spec.name ? `${spec.name}, ` : ""}${spec.image})`, {
      method: "POST",
      url: "/containers/create",
      params: spec.name ? { name: spec.name } : undefined,
      data: {
        Image: spec.image,
        Cmd: spec.cmd,
        Env: Object.entries(spec.env ?? {}).map(([key, value]) => `${key}=${value}`),
        Labels: spec.labels ?? {},
        HostConfig: spec.hostConfig,
      },
    });
    return (res.data as { Id: string }).Id;
  }

  /** The container's details, or undefined when there is no such container. */
  async inspectContainer(id: string): Promise<ContainerInspect | undefined> {
    const res = await this.call(`GET /containers/${id}/json`, {
      method: "GET",
      url: `/containers/${id}/json`,
      acceptStatus: [404],
    });
    return res.status === 404 ? undefined : res.data;
  }

  /**
   * One sample of a running container's CPU and memory counters (`one-shot`: no wait for a second sample, so the
   * caller keeps the previous one to turn CPU time into a rate). Undefined when the container is gone.
   */
  async containerStats(id: string): Promise<ContainerStats | undefined> {
    const res = await this.call(`GET /containers/${id}/stats`, {
      method: "GET",
      url: `/containers/${id}/stats`,
      params: { stream: false, "one-shot": true },
      acceptStatus: [404, 409],
    });
    return res.status === 200 ? res.data : undefined;
  }

  /** Every container, running or not, that carries all of `labels`. */
  async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const filters = { label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) };
    const res = await this.call("GET /containers/json", {
      method: "GET",
      url: "/containers/json",
      params: { all: 1, filters: JSON.stringify(filters) },
    });
    return res.data;
  }

  /**
   * Writes files into a container under `dir` (which must exist in it), before it starts if need be: where `dir` is
   * in one of its volumes, into the volume. Unlike env, what is written this way does not show in `docker inspect`.
   */
  async writeFiles(id: string, dir: string, files: ContainerFile[]): Promise<void> {
    const archive = pack();
    const chunks: Buffer[] = [];
    archive.on("data", (chunk: Buffer) => chunks.push(chunk));
    const packed = new Promise((resolve, reject) => archive.on("end", resolve).on("error", reject));
    for (const file of files) {
      const type = file.content === undefined ? "directory" : "file";
      archive.entry({ name: file.name, type, mode: file.mode, uid: 0, gid: 0, mtime: new Date() }, file.content);
    }
    archive.finalize();
    await packed;
    await this.call(`PUT /containers/${id}/archive (${dir})`, {
      method: "PUT",
      url: `/containers/${id}/archive`,
      params: { path: dir },
      headers: { "Content-Type": "application/x-tar" },
      data: Buffer.concat(chunks),
    });
  }

  async startContainer(id: string): Promise<void> {
    await this.call(`POST /containers/${id}/start`, { method: "POST", url: `/containers/${id}/start` });
  }

  async pauseContainer(id: string): Promise<void> {
    await this.call(`POST /containers/${id}/pause`, { method: "POST", url: `/containers/${id}/pause` });
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.call(`POST /containers/${id}/unpause`, { method: "POST", url: `/containers/${id}/unpause` });
  }

  /**
   * Sends SIGTERM, then SIGKILL after `timeoutSeconds`, and returns once the container has stopped. The engine
   * answers only then, so the request's own timeout leaves it that long and more. A container already stopped
   * (304) or gone (404) has nothing left to stop.
   */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.call(`POST /containers/${id}/stop`, {
      method: "POST",
      url: `/containers/${id}/stop`,
      params: { t: timeoutSeconds },
      timeout: (timeoutSeconds + STOP_MARGIN_SECONDS) * 1000,
      acceptStatus: [304, 404],
    });
  }

  async containerLogs(id: string): Promise<ContainerOutput> {
    const res = await this.call(`GET /containers/${id}/logs`, {
      method: "GET",
      url: `/containers/${id}/logs`,
      params: { stdout: 1, stderr: 1 },
      responseType: "arraybuffer",
    });
    return demultiplexLogs(Buffer.from(res.data as ArrayBuffer));
  }

  /**
   * A container's log as it is written, each line prefixed with its RFC 3339 timestamp (nanoseconds) and still
   * multiplexed (LogFrameDecoder splits it). The engine ends the stream when the container stops; `since` (a UNIX
   * time, fractions allowed) skips what was read before. Undefined when there is no such container.
   */
  async followContainerLogs(id: string, options: { since?: string; signal?: AbortSignal } = {}): Promise<Readable | undefined> {
    const call = `GET /containers/${id}/logs (follow)`;
    const res = await this.call(call, {
      method: "GET",
      url: `/containers/${id}/logs`,
      params: { stdout: 1, stderr: 1, follow: 1, timestamps: 1, ...(options.since && { since: options.since }) },
      responseType: "stream",
      signal: options.signal,
      acceptStatus: [400, 404, 409, 500],
    });
    const body = res.data as Readable;
    if (res.status === 200) return body;
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    if (res.status === 404) return undefined;
    throw new DockerEngineError(this.host, call, res.status, engineMessage(Buffer.concat(chunks).toString("utf8")));
  }

  async removeContainer(id: string): Promise<void> {
    await this.call(`DELETE /containers/${id}`, {
      method: "DELETE",
      url: `/containers/${id}`,
      params: { force: 1, v: 1 },
      acceptStatus: [404],
    });
  }

  /** Volume names carrying all of these labels. */
  async listVolumes(labels: Record<string, string>): Promise<string[]> {
    const filters = JSON.stringify({ label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) });
    const res = await this.call("GET /volumes", { method: "GET", url: "/volumes", params: { filters } });
    return ((res.data as { Volumes: Array<{ Name: string }> | null }).Volumes ?? []).map((v) => v.Name);
  }

  /** Creates a named volume with the local driver; the engine returns the existing one when the name is taken. */
  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.call(`POST /volumes/create (${name})`, {
      method: "POST",
      url: "/volumes/create",
      data: { Name: name, Driver: "local", Labels: labels },
    });
  }

  /** Removes a volume; one that does not exist is already removed. One that any container uses, even a stopped one, is refused (409). */
  async removeVolume(name: string): Promise<void> {
    await this.call(`DELETE /volumes/${name}`, { method: "DELETE", url: `/volumes/${name}`, acceptStatus: [404] });
  }

  /** One request; a status of 400 or more throws, unless listed in `acceptStatus` (e.g. 404 for "already gone"). */
  protected async call(
    call: string,
    request: Parameters<AxiosInstance["request"]>[0] & { acceptStatus?: number[] },
  ): Promise<AxiosResponse> {
    const { acceptStatus = [], ...config } = request;
    let res: AxiosResponse;
    try {
      res = await this.http.request(config);
    } catch (err) {
      const cause = err as NodeJS.ErrnoException;
      if (axios.isAxiosError(err) && (err.code === "ECONNABORTED" || err.code === "ETIMEDOUT") && config.timeout) {
        throw new DockerEngineError(this.host, call, undefined, `no answer within ${config.timeout} ms`);
      }
      throw new DockerEngineError(this.host, call, undefined, `engine unreachable (${cause.code ?? cause.message})`);
    }
    if (res.status >= 400 && !acceptStatus.includes(res.status)) {
      throw new DockerEngineError(this.host, call, res.status, engineMessage(res.data));
    }
    return res;
  }
}

/** The counters of the stats API that the workers view reads. */
export interface ContainerStats {
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats: { usage?: number; limit?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
}

/** Extra time a stop request is given beyond its SIGKILL deadline, for the engine to kill and reap the process. */
const STOP_MARGIN_SECONDS = 30;

/** Throws the first error of a streamed JSON-lines answer (build, pull), which the engine sends with HTTP 200. */
export function throwStreamedError(host: string, call: string, res: AxiosResponse): void {
  for (const line of String(res.data).split("\n")) {
    if (!line.trim()) continue;
    const message = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
    if (message.error) throw new DockerEngineError(host, call, res.status, message.errorDetail?.message ?? message.error);
  }
}

/**
 * Splits an image reference into the repository and the tag (or digest) the pull API takes separately. A
 * reference without either means ":latest", as for the docker CLI: the API itself would pull every tag.
 */
export function splitImageReference(image: string): { name: string; tag: string; registry: string } {
  let name = image;
  let tag = "latest";
  const at = image.indexOf("@");
  if (at >= 0) {
    name = image.slice(0, at);
    tag = image.slice(at + 1);
  } else {
    const colon = image.lastIndexOf(":");
    if (colon > image.lastIndexOf("/")) {
      name = image.slice(0, colon);
      tag = image.slice(colon + 1);
    }
  }
  // The first path component names a registry only when it looks like a host, as the docker CLI decides.
  const first = name.split("/")[0]!;
  const registry = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
  return { name, tag, registry };
}

/** The engine's own words from an error body, whatever form axios handed it over in. */
function engineMessage(data: unknown): string {
  let body = data;
  if (data instanceof ArrayBuffer) body = Buffer.from(data).toString("utf8");
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return (body as string).trim();
    }
  }
  const message = (body as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : JSON.stringify(body);
}
