import { spawn } from "node:child_process";
import axios, { type AxiosInstance, type AxiosResponse } from "axios";
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
}

export interface BuildSpec {
  /** Directory sent as the build context. */
  contextDir: string;
  tag: string;
  dockerfile?: string;
  buildArgs?: Record<string, string>;
}

/**
 * A small client for the Docker Engine API over its unix socket or TCP, through axios.
 * Only the calls Berth makes are here; each error carries the engine address and the call that failed.
 */
export class DockerEngine {
  private readonly http: AxiosInstance;
  readonly host: string;

  constructor(connection: DockerConnection = dockerConnection()) {
    this.host = connection.host;
    this.http = axios.create({ ...connection.axios, validateStatus: () => true, maxRedirects: 0 });
  }

  static fromEnv(env: DockerEnv = process.env): DockerEngine {
    return new DockerEngine(dockerConnection(env));
  }

  async ping(): Promise<void> {
    await this.call("GET /_ping", { method: "GET", url: "/_ping" });
  }

  async version(): Promise<{ Version: string; ApiVersion: string }> {
    return (await this.call("GET /version", { method: "GET", url: "/version" })).data;
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
    for (const line of String(res.data).split("\n")) {
      if (!line.trim()) continue;
      const message = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
      if (message.error) throw new DockerEngineError(this.host, call, res.status, message.errorDetail?.message ?? message.error);
    }
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const res = await this.call(`POST /containers/create (${spec.image})`, {
      method: "POST",
      url: "/containers/create",
      params: spec.name ? { name: spec.name } : undefined,
      data: {
        Image: spec.image,
        Cmd: spec.cmd,
        Env: Object.entries(spec.env ?? {}).map(([key, value]) => `${key}=${value}`),
        Labels: spec.labels ?? {},
      },
    });
    return (res.data as { Id: string }).Id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call(`POST /containers/${id}/start`, { method: "POST", url: `/containers/${id}/start` });
  }

  /** Waits until the container stops and returns its exit code. */
  async waitContainer(id: string): Promise<number> {
    const res = await this.call(`POST /containers/${id}/wait`, { method: "POST", url: `/containers/${id}/wait` });
    return (res.data as { StatusCode: number }).StatusCode;
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

  async removeContainer(id: string): Promise<void> {
    await this.call(`DELETE /containers/${id}`, {
      method: "DELETE",
      url: `/containers/${id}`,
      params: { force: 1, v: 1 },
      acceptStatus: [404],
    });
  }

  /** Runs a command in a new container to completion: create, start, wait, read its output, remove it. */
  async run(spec: ContainerSpec): Promise<ContainerOutput & { exitCode: number }> {
    const id = await this.createContainer(spec);
    try {
      await this.startContainer(id);
      const exitCode = await this.waitContainer(id);
      return { ...(await this.containerLogs(id)), exitCode };
    } finally {
      await this.removeContainer(id);
    }
  }

  private async call(
    call: string,
    request: Parameters<AxiosInstance["request"]>[0] & { acceptStatus?: number[] },
  ): Promise<AxiosResponse> {
    const { acceptStatus = [], ...config } = request;
    let res: AxiosResponse;
    try {
      res = await this.http.request(config);
    } catch (err) {
      const cause = err as NodeJS.ErrnoException;
      throw new DockerEngineError(this.host, call, undefined, `engine unreachable (${cause.code ?? cause.message})`);
    }
    if (res.status >= 400 && !acceptStatus.includes(res.status)) {
      throw new DockerEngineError(this.host, call, res.status, engineMessage(res.data));
    }
    return res;
  }
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
