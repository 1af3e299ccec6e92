import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import type { AxiosRequestConfig } from "axios";

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/** Where and how to reach a Docker engine, in the form axios takes it. */
export interface DockerConnection {
  /** The DOCKER_HOST it came from, for error messages. */
  host: string;
  axios: Pick<AxiosRequestConfig, "socketPath" | "baseURL" | "httpsAgent">;
}

export interface DockerEnv {
  DOCKER_HOST?: string;
  DOCKER_TLS_VERIFY?: string;
  DOCKER_CERT_PATH?: string;
}

/**
 * Reads a Docker engine address the way the docker CLI does: DOCKER_HOST as unix:///path or tcp://host:port,
 * with TLS (client certificate and CA from DOCKER_CERT_PATH) when DOCKER_TLS_VERIFY is set.
 */
export function dockerConnection(env: DockerEnv = process.env): DockerConnection {
  const host = env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  const url = parseHost(host);

  if (url.protocol === "unix:") {
    // The URL's host part is meaningless over a socket; axios still needs one to build the request line.
    return { host, axios: { socketPath: url.pathname, baseURL: "http://docker" } };
  }

  const tls = Boolean(env.DOCKER_TLS_VERIFY);
  const baseURL = `${tls ? "https" : "http"}://${url.host}`;
  if (!tls) return { host, axios: { baseURL } };

  const certDir = env.DOCKER_CERT_PATH || path.join(process.env.HOME ?? "/root", ".docker");
  const read = (file: string) => {
    const full = path.join(certDir, file);
    try {
      return fs.readFileSync(full);
    } catch (err) {
      throw new Error(`DOCKER_TLS_VERIFY is set but ${full} cannot be read: ${(err as Error).message}`);
    }
  };
  const httpsAgent = new https.Agent({ ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") });
  return { host, axios: { baseURL, httpsAgent } };
}

function parseHost(host: string): URL {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new Error(`DOCKER_HOST=${host} is not a URL: expected unix:///path/to/docker.sock or tcp://host:port`);
  }
  if (url.protocol === "unix:" && url.pathname) return url;
  if (url.protocol === "tcp:" && url.hostname && url.port) return url;
  throw new Error(`DOCKER_HOST=${host} is not supported: expected unix:///path/to/docker.sock or tcp://host:port`);
}
