/**
 * A minimal keep-alive JSON client over node:http, for load generation. axios costs several times more CPU per
 * request, and on a 2-core machine the load generator's CPU is CPU the control plane does not get.
 */
import http from "node:http";

export interface JsonResponse {
  status: number;
  body: any;
}

export class JsonClient {
  private readonly agent: http.Agent;

  constructor(
    private readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
    maxSockets = 64,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  /** `headers` add to (or replace) the client's own, for this request. */
  get(path: string, headers?: Record<string, string>): Promise<JsonResponse> {
    return this.request("GET", path, undefined, headers);
  }

  post(path: string, body: unknown, headers?: Record<string, string>): Promise<JsonResponse> {
    return this.request("POST", path, JSON.stringify(body), headers);
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, payload?: string, extra?: Record<string, string>): Promise<JsonResponse> {
    const url = new URL(path, this.baseUrl);
    const headers = extra ? { ...this.headers, ...extra } : this.headers;
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        {
          method,
          agent: this.agent,
          headers: payload === undefined ? headers : { ...headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
}
