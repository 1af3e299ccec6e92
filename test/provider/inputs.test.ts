// The rules the dynamic providers apply to resource inputs (provider/inputs.ts), with the admin API's own schemas
// and the values Pulumi's dynamic provider host really passes: at preview an input not yet known is the string
// `unknownValue`, nested where the program put it; secrets arrive as plain values (the host does not accept
// secrets), so they are validated and compared like any other value.
import assert from "node:assert/strict";
import { test } from "node:test";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { controlPlaneProvider } from "../../provider/control-plane";
import { changedKeys, containsUnknown, liveInputs, pick, stableJson, UNKNOWN, validate } from "../../provider/inputs";
import { endpointSpecSchema, networkVolumeSpecSchema, templateSpecSchema } from "../../server/resources/schemas";

const ENDPOINT = { name: "chat", templateId: "tpl_1" };
const TEMPLATE = { name: "vllm", imageName: "runpod/worker-v1-vllm:v2.7.0" };

test("the unknown sentinel is the one Pulumi's runtime sends for values known only at apply", () => {
  assert.equal(UNKNOWN, unknownValue);
});

test("containsUnknown finds the sentinel at any depth of objects and arrays, and nothing else", () => {
  assert.equal(containsUnknown(UNKNOWN), true);
  assert.equal(containsUnknown({ env: { A: "1", B: UNKNOWN } }), true);
  assert.equal(containsUnknown(["ADA_24", UNKNOWN]), true);
  assert.equal(containsUnknown({ a: [{ b: [UNKNOWN] }] }), true);

  assert.equal(containsUnknown({ env: { A: "1" }, gpuTypeIds: ["ADA_24"], workersMin: 0, flashboot: false }), false);
  assert.equal(containsUnknown(null), false);
  assert.equal(containsUnknown(undefined), false);
  // A value that merely mentions the sentinel is a known value: Pulumi never sends a partly known string.
  assert.equal(containsUnknown(`image:${UNKNOWN}`), false);
});

test("valid inputs have no failures", () => {
  assert.deepEqual(validate(endpointSpecSchema, ENDPOINT), []);
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, workersMin: 1, workersMax: 2, gpuTypeIds: ["ADA_24"] }), []);
  assert.deepEqual(validate(networkVolumeSpecSchema, { name: "models", size: 100, dataCenterId: "EU-RO-1" }), []);
});

test("a failure names the property and the rule, and its reason starts with the property", () => {
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, gpuCount: 0 }), [
    { property: "gpuCount", reason: "gpuCount: Too small: expected number to be >=1" },
  ]);
  assert.deepEqual(validate(templateSpecSchema, { ...TEMPLATE, imageName: "Bad/Image" }), [
    { property: "imageName", reason: 'imageName: image reference repository name must be lowercase ("Bad")' },
  ]);
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, workersMin: 5, workersMax: 2 }), [
    { property: "workersMin", reason: "workersMin: must not exceed workersMax (5 > 2)" },
  ]);
});

test("a failure inside a nested object or array names its path with dots", () => {
  assert.deepEqual(validate(templateSpecSchema, { ...TEMPLATE, ports: ["8888/http", "99999/tcp"] }), [
    { property: "ports.1", reason: "ports.1: must be PORT/http, PORT/tcp or PORT/udp with PORT 1..65535" },
  ]);
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, env: { "1BAD": "x" } }), [
    { property: "env.1BAD", reason: "env.1BAD: Invalid key in record" },
  ]);
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, env: { B: "x" }, secretEnvKeys: ["A"] }), [
    { property: "secretEnvKeys.0", reason: 'secretEnvKeys.0: names no variable in env ("A")' },
  ]);
});

test("every failure is reported, not only the first", () => {
  const failures = validate(endpointSpecSchema, { ...ENDPOINT, gpuCount: 0, idleTimeout: 0, scalerType: "CPU" });
  assert.deepEqual(
    failures.map((f) => f.property),
    ["gpuCount", "idleTimeout", "scalerType"],
  );
});

test("a failure of the inputs as a whole, such as an unknown field, is reported on (inputs)", () => {
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, workerMax: 3 }), [
    { property: "(inputs)", reason: 'inputs: Unrecognized key: "workerMax"' },
  ]);
});

test("at preview an unknown property is not judged, and the known ones still are", () => {
  assert.deepEqual(validate(templateSpecSchema, { ...TEMPLATE, imageName: UNKNOWN }), []);
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, templateId: UNKNOWN, gpuCount: 0 }), [
    { property: "gpuCount", reason: "gpuCount: Too small: expected number to be >=1" },
  ]);
});

test("a property with an unknown part is left whole for apply: its known parts are not judged at preview", () => {
  // The same bad entries are failures once nothing beside them is unknown.
  assert.equal(validate(endpointSpecSchema, { ...ENDPOINT, gpuTypeIds: ["NOT A GPU"] }).length, 1);
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, gpuTypeIds: ["NOT A GPU", UNKNOWN] }), []);
  assert.equal(validate(endpointSpecSchema, { ...ENDPOINT, env: { "1BAD": "x" } }).length, 1);
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, env: { "1BAD": "x", TOKEN: UNKNOWN } }), []);
});

test("a rule across properties is not judged while one of them is unknown", () => {
  assert.deepEqual(validate(endpointSpecSchema, { ...ENDPOINT, workersMin: 5, workersMax: UNKNOWN }), []);
});

test("a secret value is validated as a plain value, and a failure names its variable without showing the value", () => {
  const token = "s3cret-".repeat(5000);
  assert.deepEqual(validate(templateSpecSchema, { ...TEMPLATE, env: { TOKEN: "s3cret" }, secretEnvKeys: ["TOKEN"] }), []);
  const failures = validate(templateSpecSchema, { ...TEMPLATE, env: { TOKEN: token }, secretEnvKeys: ["TOKEN"] });
  assert.deepEqual(failures, [{ property: "env.TOKEN", reason: "env.TOKEN: Too big: expected string to have <=32768 characters" }]);
});

test("stableJson ignores the order of object keys at any depth, but not the order of array items", () => {
  assert.equal(stableJson({ b: 1, a: { d: [1, 2], c: "x" } }), stableJson({ a: { c: "x", d: [1, 2] }, b: 1 }));
  assert.equal(stableJson({ b: 1, a: 2 }), '{"a":2,"b":1}');
  assert.notEqual(stableJson(["ADA_24", "AMPERE_80"]), stableJson(["AMPERE_80", "ADA_24"]));
  assert.equal(stableJson(undefined), stableJson(null));
});

test("changedKeys lists the listed keys whose values differ, in the listed order", () => {
  const olds = { name: "chat", workersMax: 3, gpuTypeIds: ["ADA_24"], flashboot: true };
  const news = { name: "chat", workersMax: 4, gpuTypeIds: ["ADA_24", "AMPERE_80"], flashboot: false };
  assert.deepEqual(changedKeys(olds, news, ["flashboot", "gpuTypeIds", "name", "workersMax"]), ["flashboot", "gpuTypeIds", "workersMax"]);
  assert.deepEqual(changedKeys(olds, olds, ["flashboot", "gpuTypeIds", "name", "workersMax"]), []);
});

test("changedKeys ignores keys not listed, such as the serialized provider", () => {
  const olds = { __provider: "exports.handler = 1", name: "chat" };
  const news = { __provider: "exports.handler = 2", name: "chat" };
  assert.deepEqual(changedKeys(olds, news, ["name"]), []);
});

test("changedKeys compares nested objects by content, whatever the order of their keys", () => {
  const olds = { env: { A: "1", B: "2" } };
  assert.deepEqual(changedKeys(olds, { env: { B: "2", A: "1" } }, ["env"]), []);
  assert.deepEqual(changedKeys(olds, { env: { A: "1", B: "3" } }, ["env"]), ["env"]);
  assert.deepEqual(changedKeys(olds, { env: { A: "1" } }, ["env"]), ["env"]);
});

test("changedKeys sees a key added or removed, and treats absent and null alike", () => {
  assert.deepEqual(changedKeys({ name: "v" }, { name: "v", networkVolumeId: "vol_1" }, ["name", "networkVolumeId"]), ["networkVolumeId"]);
  assert.deepEqual(changedKeys({ name: "v", networkVolumeId: "vol_1" }, { name: "v" }, ["name", "networkVolumeId"]), ["networkVolumeId"]);
  assert.deepEqual(changedKeys({ networkVolumeId: null }, {}, ["networkVolumeId"]), []);
});

test("at preview a value becoming unknown, at the top or nested, is a change", () => {
  assert.deepEqual(changedKeys({ templateRolloutKey: "k1" }, { templateRolloutKey: UNKNOWN }, ["templateRolloutKey"]), ["templateRolloutKey"]);
  assert.deepEqual(changedKeys({ env: { A: "1", B: "2" } }, { env: { A: "1", B: UNKNOWN } }, ["env"]), ["env"]);
});

test("a changed secret is a change, as any plain value is", () => {
  assert.deepEqual(changedKeys({ apiKey: "key-0123456789abcdef" }, { apiKey: "key-fedcba9876543210" }, ["apiKey"]), ["apiKey"]);
});

test("pick keeps the listed keys that are set, including falsy and unknown values, and nothing else", () => {
  const inputs = {
    __provider: "exports.handler = 1",
    controlPlaneUrl: "http://127.0.0.1:8080",
    name: "chat",
    workersMin: 0,
    flashboot: false,
    readme: "",
    templateId: UNKNOWN,
    networkVolumeId: undefined,
    dataCenterIds: null,
  };
  assert.deepEqual(pick(inputs, ["name", "workersMin", "flashboot", "readme", "templateId", "networkVolumeId", "dataCenterIds", "gpuCount"]), {
    name: "chat",
    workersMin: 0,
    flashboot: false,
    readme: "",
    templateId: UNKNOWN,
  });
});

const ENDPOINT_DEFAULTS = endpointSpecSchema.parse(ENDPOINT) as Record<string, unknown>;

test("liveInputs keeps each field the program set, even at its default value", () => {
  const view = { ...ENDPOINT_DEFAULTS, id: "ep_1", revision: 2 };
  const state = { ...ENDPOINT, workersMax: 3, __provider: "exports.handler = 1" };
  assert.deepEqual(liveInputs(view, state, ["name", "templateId", "workersMax", "idleTimeout"], ENDPOINT_DEFAULTS), {
    name: "chat",
    templateId: "tpl_1",
    workersMax: 3,
  });
});

test("liveInputs reports a field the program left out once it is no longer at its default: drift", () => {
  const view = { ...ENDPOINT_DEFAULTS, idleTimeout: 60, gpuTypeIds: ["ADA_24"] };
  assert.deepEqual(liveInputs(view, ENDPOINT, ["name", "templateId", "idleTimeout", "gpuTypeIds", "workersMax"], ENDPOINT_DEFAULTS), {
    name: "chat",
    templateId: "tpl_1",
    idleTimeout: 60,
    gpuTypeIds: ["ADA_24"],
  });
});

test("liveInputs compares nested defaults by content, so a default read back in another key order is no drift", () => {
  const defaults = { env: { A: "1", B: "2" } };
  assert.deepEqual(liveInputs({ env: { B: "2", A: "1" } }, {}, ["env"], defaults), {});
  assert.deepEqual(liveInputs({ env: { B: "2", A: "changed" } }, {}, ["env"], defaults), { env: { B: "2", A: "changed" } });
});

test("liveInputs leaves out fields the control plane does not report and keys not listed", () => {
  const view = { name: "models", size: 200, id: "vol_1", usedBy: [] };
  const state = { name: "models", size: 100, dataCenterId: "EU-RO-1" };
  // A field without a default is drift as soon as it is set outside Pulumi, and the read value wins over state.
  assert.deepEqual(liveInputs(view, state, ["name", "size", "dataCenterId"], {}), { name: "models", size: 200 });
});

test("the ControlPlane resource refuses a database URL that is not PostgreSQL's, naming databaseUrl and not its value", async () => {
  const inputs = { name: "prod", image: "berth/control-plane:0.1.0", port: 8910, apiKey: "key-0123456789abcdef" };
  const password = "db-password-7f3a";
  assert.deepEqual((await controlPlaneProvider.check!({}, { ...inputs, databaseUrl: `postgres://berth:${password}@db:5432/berth` })).failures, []);
  assert.deepEqual((await controlPlaneProvider.check!({}, { ...inputs, databaseUrl: `postgresql://berth:${password}@db/berth` })).failures, []);
  for (const databaseUrl of [`mysql://berth:${password}@db:3306/berth`, `berth:${password}@db:5432/berth`, `postgres://`]) {
    const { failures } = await controlPlaneProvider.check!({}, { ...inputs, databaseUrl });
    assert.deepEqual(failures, [{ property: "databaseUrl", reason: "databaseUrl: must be a postgres:// or postgresql:// URL" }], databaseUrl);
    assert.ok(!JSON.stringify(failures).includes(password), "the failure does not show the password");
  }
});

test("a changed database URL is a change of the ControlPlane, re-creating its container like any setting", async () => {
  const olds = { name: "prod", image: "berth/control-plane:0.1.0", port: 8910, apiKey: "key-0123456789abcdef" };
  const diff = await controlPlaneProvider.diff!("berth-control-plane-prod", olds, { ...olds, databaseUrl: "postgres://berth:pw@db:5432/berth" });
  assert.deepEqual(diff, { changes: true, replaces: [], deleteBeforeReplace: true });
});
