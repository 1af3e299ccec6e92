// Who may call what: every route of the table the server enforces (server/api/route-access.ts), called by every
// kind of key on a real control plane; a route missing from the table cannot even be registered.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import Fastify from "fastify";
import { enforceAccess } from "../../server/api/authorize";
import { RateLimiter } from "../../server/api/rate-limits";
import { ROUTES, type RouteRule } from "../../server/api/route-access";
import type { ApiKeys } from "../../server/api-keys";
import type { Keys } from "../../server/keys";
import type { ResourceStore } from "../../server/store/resources";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint, eventually, type TestEndpoint } from "../helpers/endpoint";
import { keySecret } from "../helpers/api-key";

type Credential = "none" | "unknown" | "bootstrap" | "admin" | "read" | "runA" | "workerA";
const CREDENTIALS: Credential[] = ["none", "unknown", "bootstrap", "admin", "read", "runA", "workerA"];

/** What a credential must get on a route of endpoint `target`: let through, 401 or 403. */
function expected(rule: RouteRule, credential: Credential, target: "A" | "B"): "allowed" | 401 | 403 {
  if (rule.access === "public") return "allowed";
  if (rule.access === "worker") return credential === "workerA" && target === "A" ? "allowed" : 401;
  if (credential === "none" || credential === "unknown" || credential === "workerA") return 401;
  if (credential === "bootstrap" || credential === "admin") return "allowed";
  if (rule.access === "read") return credential === "read" ? "allowed" : 403;
  if (rule.access === "run") return credential === "runA" && target === "A" ? "allowed" : 403;
  return 403;
}

/**
 * A route's path with its parameters filled: the endpoint under test, ids that name nothing for the rest (so that
 * an admin key let into DELETE /admin/endpoints/:id deletes nothing).
 */
function pathOf(route: string, endpointId: string): string {
  return route.replace(":endpointId", endpointId).replace(/:(id|jobId|workerId)/g, "no-such-$1");
}

interface Answer {
  status: number;
  body: string;
}

/** One request with a raw Authorization header (any bytes), the status read and the body dropped for streams. */
function call(base: string, method: string, path: string, authorization: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const body = method === "POST" || method === "PUT" || method === "PATCH" ? "{}" : undefined;
    const request = http.request(
      url,
      {
        method,
        headers: {
          ...(authorization === undefined ? {} : { authorization }),
          ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}),
        },
      },
      (response) => {
        // An event stream never ends: its status and first bytes are all a check needs.
        if (response.headers["content-type"]?.startsWith("text/event-stream")) {
          resolve({ status: response.statusCode!, body: "" });
          request.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body: Buffer.concat(chunks).toString() }));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

/**
 * A request written on a bare socket, so that any header bytes go out as given and an answer the server sends
 * before closing (431 for a header over its limit, while the client is still writing) is read all the same.
 */
function rawCall(base: string, method: string, path: string, authorization: string | undefined): Promise<Answer> {
  const { hostname, port } = new URL(base);
  const head = [`${method} ${path} HTTP/1.1`, `host: ${hostname}`, "connection: close", "content-type: application/json", "content-length: 2"];
  if (authorization !== undefined) head.push(`authorization: ${authorization}`);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname, () => socket.end(Buffer.from(`${head.join("\r\n")}\r\n\r\n{}`, "latin1")));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    const finish = (err?: Error) => {
      const text = Buffer.concat(chunks).toString("latin1");
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (status) resolve({ status: Number(status[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4) });
      else reject(err ?? new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
    };
    socket.on("close", () => finish());
    socket.on("error", (err) => finish(err));
  });
}

describe("access control: the route table, every kind of key", () => {
  let cp: ControlPlaneProcess;
  let endpointA: TestEndpoint;
  let endpointB: TestEndpoint;
  const keys = {} as Record<Credential, string | undefined>;

  before(async () => {
    // Short long-polls: a worker key that is let into job-take waits this long for a job that never comes.
    cp = await ControlPlaneProcess.start({ env: { BERTH_LONG_POLL_MS: "100" } });
    endpointA = await createEndpoint(cp);
    endpointB = await createEndpoint(cp);
    const api = apiClient(cp);
    const make = async (body: Record<string, unknown>) => {
      const reply = await api.post("/admin/keys", body);
      assert.equal(reply.status, 201, JSON.stringify(reply.data));
      return reply.data.key as string;
    };
    keys.none = undefined;
    keys.unknown = "bk_0123456789abcdef_" + "A".repeat(43);
    keys.bootstrap = cp.apiKey;
    keys.admin = await make({ name: "deploy pipeline", scope: "admin" });
    keys.read = await make({ name: "dashboard", scope: "read" });
    keys.runA = await make({ name: "app", scope: "run", endpointIds: [endpointA.id] });
    keys.workerA = endpointA.workerEnv.RUNPOD_AI_API_KEY;
  });
  after(async () => {
    await cp?.stop();
    cp?.removeData();
  });

  for (const [route, rule] of Object.entries(ROUTES)) {
    const [method, template] = route.split(" ") as [string, string];
    const targets: Array<"A" | "B"> = template.includes(":endpointId") ? ["A", "B"] : ["A"];
    for (const target of targets) {
      test(`${route}${targets.length > 1 ? ` on endpoint ${target}` : ""}: ${rule.access}`, async () => {
        const endpointId = target === "A" ? endpointA.id : endpointB.id;
        // The OpenAI route waits for a worker as /runsync does; this endpoint has none: a second, then 504.
        const openAi = template.includes("/openai/");
        const path = pathOf(template, endpointId) + (template.endsWith("/runsync") || openAi ? "?wait=1000" : "");
        for (const credential of CREDENTIALS) {
          const key = keys[credential];
          const answer = await call(cp.url, method, path, key === undefined ? undefined : `Bearer ${key}`);
          const want = expected(rule, credential, target);
          const what = `${credential} key: HTTP ${answer.status} ${answer.body.slice(0, 300)}`;
          if (want === "allowed") {
            assert.ok(![401, 403, 429].includes(answer.status) && (answer.status < 500 || (openAi && answer.status === 504)), what);
            // A route of the table that the server does not have would answer "no route".
            assert.doesNotMatch(answer.body, /"no route /, what);
          } else {
            assert.equal(answer.status, want, what);
            const parsed = JSON.parse(answer.body);
            // The OpenAI route answers in OpenAI's shape, which has no details: its message names the endpoint.
            if (openAi) {
              assert.equal(parsed.error?.code, want === 401 ? "unauthorized" : "forbidden", what);
              if (want === 403 && rule.access === "run" && credential === "runA") assert.match(parsed.error.message, new RegExp(`not endpoint ${endpointId}`), what);
              continue;
            }
            const body = parsed as { error: string; message: string; details?: { needed?: string } };
            assert.equal(body.error, want === 401 ? "unauthorized" : "forbidden", what);
            if (want === 403) {
              // The refusal names what the key lacks: the scope, or the endpoint of a run key.
              const needed = rule.access === "run" ? `run:${endpointId}` : rule.access;
              assert.equal(body.details?.needed, needed, what);
              if (rule.access === "run" && credential === "runA") assert.match(body.message, new RegExp(`for endpoints ${endpointA.id} only, not endpoint ${endpointId}`), what);
            }
          }
        }
      });
    }
  }

  test("a revoked key is refused at once; the key list shows it revoked, never a secret", async () => {
    const api = apiClient(cp);
    const made = await api.post("/admin/keys", { name: "short-lived", scope: "run", endpointIds: [endpointA.id] });
    const client = apiClient(cp, made.data.key);
    assert.equal((await client.get(`/v2/${endpointA.id}/health`)).status, 200);
    assert.equal((await api.delete(`/admin/keys/${made.data.id}`)).status, 204);
    const refused = await client.get(`/v2/${endpointA.id}/health`);
    assert.equal(refused.status, 401, JSON.stringify(refused.data));
    const listed = (await api.get("/admin/keys")).data as Array<Record<string, unknown>>;
    const entry = listed.find((k) => k.id === made.data.id)!;
    assert.equal(entry.status, "revoked");
    assert.ok(!JSON.stringify(listed).includes(keySecret(made.data.key)), "no listing holds a secret");
  });

  test("an expired key is refused within a second of its expiry", async () => {
    const expiresAt = Date.now() + 1500;
    const made = await apiClient(cp).post("/admin/keys", { name: "expiring", scope: "read", expiresAt: new Date(expiresAt).toISOString() });
    assert.equal(made.status, 201, JSON.stringify(made.data));
    const client = apiClient(cp, made.data.key);
    assert.equal((await client.get("/admin/overview")).status, 200);
    const refusedAt = await eventually("the expired key to be refused", async () => ((await client.get("/admin/overview")).status === 401 ? Date.now() : undefined), 5_000);
    assert.ok(refusedAt >= expiresAt, "not refused before its expiry");
    assert.ok(refusedAt <= expiresAt + 1_000, `refused ${refusedAt - expiresAt} ms after its expiry`);
  });

  test("bad key requests name the field and rule", async () => {
    const api = apiClient(cp);
    const noEndpoints = await api.post("/admin/keys", { name: "app", scope: "run" });
    assert.equal(noEndpoints.status, 400);
    assert.match(noEndpoints.data.message, /body\.endpointIds: a run key names the endpoints it may call/);
    const unknown = await api.post("/admin/keys", { name: "app", scope: "run", endpointIds: ["nope"] });
    assert.equal(unknown.status, 400);
    assert.match(unknown.data.message, /body\.endpointIds\.0: endpoint nope does not exist/);
    const scope = await api.post("/admin/keys", { name: "app", scope: "root" });
    assert.equal(scope.status, 400);
    assert.match(scope.data.message, /body\.scope/);
    const past = await api.post("/admin/keys", { name: "app", scope: "read", expiresAt: "2001-01-01T00:00:00Z" });
    assert.equal(past.status, 400);
    assert.match(past.data.message, /body\.expiresAt: must be in the future/);
  });

  test("a fuzz of credentials on every route: wrong, missing, malformed and oversized keys get 4xx, never 5xx", async () => {
    const otherWorkerKey = endpointB.workerEnv.RUNPOD_AI_API_KEY!;
    const realId = (await apiClient(cp).get("/admin/keys")).data[0].id as string;
    const credentials: Array<string | undefined> = [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      "Bearer    \t ",
      "Basic dXNlcjpwYXNz",
      "Bearer bk_",
      `Bearer bk_${realId}_${"B".repeat(43)}`,
      `Bearer bk_${realId}_${"B".repeat(42)}`,
      `Bearer bk_${realId.toUpperCase()}_${"B".repeat(43)}`,
      `Bearer ${cp.apiKey}x`,
      `Bearer ${cp.apiKey.slice(0, -1)}`,
      otherWorkerKey,
      `Bearer ${otherWorkerKey}`,
      "Bearer " + "\u00ff\u00fe".repeat(64),
      "Bearer " + "x".repeat(8 * 1024),
      "Bearer " + "x".repeat(64 * 1024),
      "Bearer \"quoted\"; drop table api_keys; --",
    ];
    const routes = Object.entries(ROUTES).filter(([, rule]) => rule.access !== "public");
    for (const [route] of routes) {
      const [method, template] = route.split(" ") as [string, string];
      for (const credential of credentials) {
        const answer = await rawCall(cp.url, method, pathOf(template, endpointA.id), credential);
        assert.ok(answer.status >= 400 && answer.status < 500, `${route} with ${JSON.stringify(credential?.slice(0, 40))}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
      }
    }
    assert.ok(!cp.logs.join("\n").includes("unhandled error"), "no request ended in an unhandled error");
  });
});

describe("a revoke reaches every control plane within a second (postgres, two control planes)", () => {
  let a: ControlPlaneProcess;
  let b: ControlPlaneProcess;
  before(async () => {
    a = await ControlPlaneProcess.start({ store: "postgres" });
    b = await ControlPlaneProcess.start({ database: a.database, apiKey: a.apiKey });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await a?.removeData();
  });

  test("a key revoked on one control plane is refused by the other within a second", async () => {
    const made = await apiClient(a).post("/admin/keys", { name: "app", scope: "read" });
    assert.equal(made.status, 201, JSON.stringify(made.data));
    const onB = apiClient(b, made.data.key);
    // Used on b first, so b holds a verdict on it that the revoke must outlive by no more than a second.
    assert.equal((await onB.get("/admin/overview")).status, 200);
    const revokedAt = Date.now();
    assert.equal((await apiClient(a).delete(`/admin/keys/${made.data.id}`)).status, 204);
    assert.equal((await apiClient(a, made.data.key).get("/admin/overview")).status, 401, "refused at once where it was revoked");
    const refusedAt = await eventually("b to refuse the revoked key", async () => ((await onB.get("/admin/overview")).status === 401 ? Date.now() : undefined), 5_000);
    assert.ok(refusedAt - revokedAt <= 1_100, `b refused it ${refusedAt - revokedAt} ms after the revoke`);
  });
});

describe("the route table is the only way in", () => {
  // The matrix above checks the server against the table; these pin the table's own rules, so that a route
  // declared too open fails here rather than passing its own generated expectations.
  test("every admin write needs an admin key, and so does the worker env, which hands out the worker key", () => {
    for (const [route, rule] of Object.entries(ROUTES)) {
      const [method, url] = route.split(" ") as [string, string];
      if (url.startsWith("/admin/") && method !== "GET") assert.equal(rule.access, "admin", route);
    }
    assert.equal(ROUTES["GET /admin/endpoints/:id/worker-env"]!.access, "admin");
  });

  test("no client or worker route is public: each needs a key of its endpoint", () => {
    for (const [route, rule] of Object.entries(ROUTES)) {
      if (route.split(" ")[1]!.startsWith("/v2/")) assert.ok(rule.access === "run" || rule.access === "worker", `${route}: ${rule.access}`);
    }
  });

  test("a route without a rule cannot be registered", async () => {
    const app = Fastify();
    enforceAccess(app, {
      keys: {} as Keys,
      apiKeys: {} as ApiKeys,
      resources: {} as ResourceStore,
      rateLimiter: new RateLimiter(),
      now: Date.now,
    });
    await assert.rejects(
      async () => {
        app.get("/admin/undeclared", async () => ({}));
        await app.ready();
      },
      /GET \/admin\/undeclared has no rule in server\/api\/route-access.ts/,
    );
  });
});
