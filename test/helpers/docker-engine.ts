import { DockerEngine, splitImageReference, throwStreamedError, type ContainerSpec } from "../../docker-engine/engine";
import type { ContainerOutput } from "../../docker-engine/log-stream";

/**
 * The Docker engine client with the calls only tests and benchmarks make: tagging, pushing and removing
 * images, killing a container, waiting for one, running one to completion, asking whether a volume exists. They
 * stay out of the production client, which keeps only what Berth itself calls.
 */
export class TestDockerEngine extends DockerEngine {
  /** Gives an image another name, e.g. a registry's, to push it there. */
  async tagImage(image: string, target: string): Promise<void> {
    const { name, tag } = splitImageReference(target);
    await this.call(`POST /images/${image}/tag`, { method: "POST", url: `/images/${encodeURIComponent(image)}/tag`, params: { repo: name, tag } });
  }

  /** Pushes an image to the registry its name points at; registries on 127.0.0.0/8 need no credentials here. */
  async pushImage(image: string): Promise<void> {
    const { name, tag } = splitImageReference(image);
    const call = `POST /images/${name}/push`;
    const res = await this.call(call, {
      method: "POST",
      url: `/images/${encodeURIComponent(name)}/push`,
      params: { tag },
      // The engine requires the header even for a registry without auth.
      headers: { "X-Registry-Auth": Buffer.from("{}").toString("base64") },
      responseType: "text",
    });
    throwStreamedError(this.host, call, res);
  }

  /** Removes an image name (the layers go when no name is left); a missing one is already removed. */
  async removeImage(image: string): Promise<void> {
    await this.call(`DELETE /images/${image}`, { method: "DELETE", url: `/images/${encodeURIComponent(image)}`, acceptStatus: [404] });
  }

  /** Sends the container's process a signal, SIGKILL unless told otherwise. */
  async killContainer(id: string, signal = "SIGKILL"): Promise<void> {
    await this.call(`POST /containers/${id}/kill`, { method: "POST", url: `/containers/${id}/kill`, params: { signal } });
  }

  /** Waits until the container stops and returns its exit code. */
  async waitContainer(id: string): Promise<number> {
    const res = await this.call(`POST /containers/${id}/wait`, { method: "POST", url: `/containers/${id}/wait` });
    return (res.data as { StatusCode: number }).StatusCode;
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

  /** A regular file in a container (in one of its volumes too), through the archive API: its permission bits and text. */
  async readFile(id: string, file: string): Promise<{ mode: number; text: string }> {
    const res = await this.call(`GET /containers/${id}/archive (${file})`, {
      method: "GET",
      url: `/containers/${id}/archive`,
      params: { path: file },
      responseType: "arraybuffer",
    });
    const stat = JSON.parse(Buffer.from(String(res.headers["x-docker-container-path-stat"]), "base64").toString("utf8")) as { mode: number; size: number };
    // A tar of one file: its 512-byte header, then its bytes.
    return { mode: stat.mode & 0o777, text: Buffer.from(res.data as ArrayBuffer).subarray(512, 512 + stat.size).toString("utf8") };
  }

  async volumeExists(name: string): Promise<boolean> {
    const res = await this.call(`GET /volumes/${name}`, { method: "GET", url: `/volumes/${name}`, acceptStatus: [404] });
    return res.status === 200;
  }
}
