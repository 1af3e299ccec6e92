import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergePatch } from "../../server/api/admin-routes";
import { buildOpenApiDocument } from "../../server/api/openapi";
import { durationMs } from "../../server/resources/durations";
import { sinceMs } from "../../server/resources/log-schemas";
import {
  SECRET_MASK,
  endpointSpecSchema,
  endpointViewSchema,
  maskSecrets,
  networkVolumeSpecSchema,
  parseImageReference,
  restoreMaskedSecrets,
  templateSpecSchema,
} from "../../server/resources/schemas";

describe("parseImageReference", () => {
  const valid: Array<[string, { domain?: string; path: string; tag?: string; digest?: string }]> = [
    ["ubuntu", { path: "ubuntu" }],
    ["ubuntu:22.04", { path: "ubuntu", tag: "22.04" }],
    ["runpod/worker-v1-vllm:v2.7.0stable-cuda12.1.0", { path: "runpod/worker-v1-vllm", tag: "v2.7.0stable-cuda12.1.0" }],
    ["berth/test-worker:dev", { path: "berth/test-worker", tag: "dev" }],
    ["localhost/app", { domain: "localhost", path: "app" }],
    ["registry:5000/a/b:1", { domain: "registry:5000", path: "a/b", tag: "1" }],
    ["ghcr.io/org-name/x:latest", { domain: "ghcr.io", path: "org-name/x", tag: "latest" }],
    [`registry:5000/a/b@sha256:${"a".repeat(64)}`, { domain: "registry:5000", path: "a/b", digest: `sha256:${"a".repeat(64)}` }],
    [`a/b:t@sha256:${"0".repeat(64)}`, { path: "a/b", tag: "t", digest: `sha256:${"0".repeat(64)}` }],
    ["my_org/my__img.x-y", { path: "my_org/my__img.x-y" }],
    ["[::1]:5000/img", { domain: "[::1]:5000", path: "img" }],
  ];
  for (const [ref, expected] of valid) {
    test(`accepts ${ref}`, () => {
      const parsed = parseImageReference(ref);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
      assert.deepEqual(parsed.reference, { domain: undefined, tag: undefined, digest: undefined, ...expected });
    });
  }

  const invalid: Array<[string, RegExp]> = [
    ["", /empty/],
    ["ubuntu 22.04", /whitespace/],
    [" ubuntu", /whitespace/],
    ["Ubuntu", /lowercase/],
    ["runpod/Worker:1", /lowercase/],
    ["ghcr.io/Org/x", /lowercase/],
    ["ubuntu:", /empty tag/],
    ["a/b:-x", /tag/],
    ["a/b:" + "x".repeat(129), /tag/],
    ["a//b", /empty path component/],
    ["a/b/", /empty path component/],
    ["/a", /empty path component/],
    [":tag", /no repository/],
    ["a/b@sha256:abc", /digest/],
    ["a/b@sha256:" + "g".repeat(64), /digest/],
    ["a/b@", /digest/],
    ["a-/b", /path component "a-"/],
    ["a/b..c", /path component "b..c"/],
    ["reg_istry.io/a", /registry/],
    ["a/" + "b".repeat(260), /longer than 255/],
  ];
  for (const [ref, reason] of invalid) {
    test(`refuses ${JSON.stringify(ref.length > 40 ? ref.slice(0, 40) + "..." : ref)}`, () => {
      const parsed = parseImageReference(ref);
      assert.ok(!parsed.ok, `accepted ${ref}`);
      assert.match(parsed.reason, reason);
    });
  }
});

describe("resource schemas", () => {
  test("RunPod's defaults", () => {
    assert.deepEqual(endpointSpecSchema.parse({ name: "e", templateId: "t" }), {
      name: "e",
      templateId: "t",
      gpuTypeIds: [],
      gpuCount: 1,
      workersMin: 0,
      workersMax: 3,
      idleTimeout: 5,
      scalerType: "QUEUE_DELAY",
      scalerValue: 4,
      executionTimeoutMs: 600_000,
      flashboot: true,
      env: {},
      secretEnvKeys: [],
    });
    assert.deepEqual(templateSpecSchema.parse({ name: "t", imageName: "a/b:1" }), {
      name: "t",
      imageName: "a/b:1",
      env: {},
      secretEnvKeys: [],
      containerDiskInGb: 50,
      volumeMountPath: "/runpod-volume",
      ports: [],
    });
  });

  test("parsing a parsed spec changes nothing, so PATCH can merge into a stored spec", () => {
    const endpoint = endpointSpecSchema.parse({ name: "e", templateId: "t", gpuTypeIds: ["ADA_24"], env: { A: "1" }, secretEnvKeys: ["A"] });
    assert.deepEqual(endpointSpecSchema.parse(endpoint), endpoint);
    const template = templateSpecSchema.parse({ name: "t", imageName: "a/b:1", startCommand: ["python", "-u", "h.py"], ports: ["8888/http"] });
    assert.deepEqual(templateSpecSchema.parse(template), template);
  });

  const issuesOf = (result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }) =>
    (result.error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);

  test("endpoint rules name their field", () => {
    const issues = issuesOf(
      endpointSpecSchema.safeParse({
        name: "e",
        templateId: "t",
        workersMin: 4,
        workersMax: 2,
        idleTimeout: 0,
        scalerValue: 0,
        gpuCount: 9,
        gpuTypeIds: ["ADA_24", "NVIDIA RTX 9999"],
      }),
    );
    assert.ok(issues.some((i) => /^workersMin: must not exceed workersMax/.test(i)), issues.join("\n"));
    assert.ok(issues.some((i) => /^idleTimeout: /.test(i)));
    assert.ok(issues.some((i) => /^scalerValue: /.test(i)));
    assert.ok(issues.some((i) => /^gpuCount: /.test(i)));
    assert.ok(issues.some((i) => /^gpuTypeIds.1: unknown GPU type or pool id "NVIDIA RTX 9999"/.test(i)));
  });

  test("a gpuTypeIds list that excludes everything it includes is refused", () => {
    const issues = issuesOf(endpointSpecSchema.safeParse({ name: "e", templateId: "t", gpuTypeIds: ["ADA_24", "-ADA_24"] }));
    assert.deepEqual(issues, ["gpuTypeIds: leaves no GPU type: every type it names is excluded"]);
  });

  test("wrongly typed numbers are refused without running the cross-field rules on them", () => {
    const issues = issuesOf(endpointSpecSchema.safeParse({ name: "e", templateId: "t", workersMin: "1", workersMax: null }));
    assert.ok(issues.some((i) => i.startsWith("workersMin: ")));
    assert.ok(issues.some((i) => i.startsWith("workersMax: ")));
  });

  test("secretEnvKeys must name env variables, once", () => {
    const issues = issuesOf(
      templateSpecSchema.safeParse({ name: "t", imageName: "a/b", env: { TOKEN: "x" }, secretEnvKeys: ["TOKEN", "MISSING", "TOKEN"] }),
    );
    assert.deepEqual(issues, ['secretEnvKeys.1: names no variable in env ("MISSING")', 'secretEnvKeys.2: repeats "TOKEN"']);
  });

  test("env names must be valid and not the control plane's", () => {
    const issues = issuesOf(templateSpecSchema.safeParse({ name: "t", imageName: "a/b", env: { OK: "x", "1BAD": "y", RUNPOD_AI_API_KEY: "z" } }));
    assert.deepEqual(issues.map((i) => i.split(":")[0]), ["env.1BAD", "env.RUNPOD_AI_API_KEY"]);
  });

  test("ports, volume size and unknown fields", () => {
    assert.ok(issuesOf(templateSpecSchema.safeParse({ name: "t", imageName: "a", ports: ["99999/http"] }))[0]!.startsWith("ports.0: "));
    assert.ok(issuesOf(networkVolumeSpecSchema.safeParse({ name: "v", size: 0, dataCenterId: "EU-RO-1" }))[0]!.startsWith("size: "));
    assert.ok(issuesOf(networkVolumeSpecSchema.safeParse({ name: "v", size: 4001, dataCenterId: "EU-RO-1" }))[0]!.startsWith("size: "));
    assert.match(issuesOf(networkVolumeSpecSchema.safeParse({ name: "v", size: 1, dataCenterId: "x", sise: 2 }))[0]!, /sise/);
  });
});

describe("secrets", () => {
  const stored = { env: { TOKEN: "s3cret", LEVEL: "debug" }, secretEnvKeys: ["TOKEN"] };

  test("masked on read", () => {
    assert.deepEqual(maskSecrets(stored), { env: { TOKEN: SECRET_MASK, LEVEL: "debug" }, secretEnvKeys: ["TOKEN"] });
  });

  test("a write echoing the mask keeps the stored secret; a new value replaces it", () => {
    assert.deepEqual(restoreMaskedSecrets({ env: { TOKEN: SECRET_MASK, LEVEL: SECRET_MASK } }, stored), {
      env: { TOKEN: "s3cret", LEVEL: SECRET_MASK },
    });
    assert.deepEqual(restoreMaskedSecrets({ env: { TOKEN: "new" } }, stored), { env: { TOKEN: "new" } });
    assert.equal(restoreMaskedSecrets("not an object", stored), "not an object");
  });
});

describe("durations (logs' since, keys' --expires)", () => {
  test("seconds, minutes, hours and days; nothing else", () => {
    assert.deepEqual(["30s", "10m", "2h", "1d"].map(durationMs), [30_000, 600_000, 7_200_000, 86_400_000]);
    for (const text of ["", "10", "m", "1.5h", "-1m", "1w", "10 m", "2026-12-06"]) assert.equal(durationMs(text), undefined, text);
  });
  test("since: a duration back from now, or an ISO 8601 time", () => {
    assert.equal(sinceMs("10m", 1_000_000), 400_000);
    assert.equal(sinceMs("2026-12-06T00:00:00Z", 0), Date.UTC(2026, 11, 6));
    assert.equal(sinceMs("yesterday", 0), undefined);
  });
});

describe("mergePatch (RFC 7396)", () => {
  test("replaces, merges objects, deletes on null, replaces arrays whole", () => {
    const target = { name: "a", env: { A: "1", B: "2" }, gpuTypeIds: ["ADA_24", "AMPERE_24"], networkVolumeId: "v" };
    assert.deepEqual(mergePatch(target, { name: "b", env: { B: null, C: "3" }, gpuTypeIds: ["HOPPER_141"], networkVolumeId: null }), {
      name: "b",
      env: { A: "1", C: "3" },
      gpuTypeIds: ["HOPPER_141"],
    });
    assert.deepEqual(target.env, { A: "1", B: "2" }, "the target is not modified");
  });

  test("a __proto__ key stays a plain key", () => {
    const merged = mergePatch({}, JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.ok(Object.keys(merged).includes("__proto__"));
  });
});

describe("OpenAPI document", () => {
  test("is generated from the zod schemas", () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
      components: { schemas: Record<string, { properties?: Record<string, { default?: unknown }>; required?: string[] }> };
    };
    const { schemas } = doc.components;
    assert.equal(schemas.EndpointInput!.properties!.workersMax!.default, 3);
    assert.deepEqual(schemas.EndpointInput!.required, ["name", "templateId"]);
    assert.equal(schemas.EndpointPatch!.properties!.workersMax!.default, undefined, "a patch has no defaults");
    assert.equal(schemas.EndpointPatch!.required, undefined);
    // A reply always has every field but the optional ones, defaults included.
    const optional = ["networkVolumeId", "dataCenterIds", "rateLimits"];
    assert.deepEqual(schemas.Endpoint!.required, Object.keys(endpointViewSchema.shape).filter((key) => !optional.includes(key)));
    for (const route of ["/v2/{endpointId}/run", "/v2/{endpointId}/runsync"]) {
      assert.deepEqual(doc.paths[route]!.post!.requestBody, {
        required: true,
        content: { "application/json": { schema: { $ref: "#/components/schemas/RunRequest" } } },
      });
    }
  });
});
