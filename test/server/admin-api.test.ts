import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import axios, { type AxiosInstance, type AxiosResponse } from "axios";
import { SecretBox } from "../../server/store/secret-box";
import { ControlPlaneProcess, STORES } from "../helpers/control-plane";
import { apiClient } from "../helpers/endpoint";

/** Sends a string body as it is: axios would otherwise JSON-encode a string that is not valid JSON. */
const RAW = [(data: unknown) => data];
const SECRET = "hf_" + "Zq9".repeat(10);
const ENDPOINT_SECRET = "sk-endpoint-" + "x7".repeat(12);

/** A 400 whose JSON body names `field` (e.g. `body.workersMin`) with a rule matching `rule`. */
function assertFieldError(res: AxiosResponse, field: string, rule: RegExp): void {
  assert.equal(res.status, 400, `expected 400 for ${field}, got ${res.status}: ${JSON.stringify(res.data)}`);
  assert.equal(res.data.error, "invalid_request");
  const details = res.data.details as Array<{ field: string; rule: string }>;
  const named = details.find((d) => d.field === field);
  assert.ok(named, `no detail names ${field}: ${JSON.stringify(details)}`);
  assert.match(named.rule, rule);
  assert.match(res.data.message, new RegExp(`${field.replace(/\./g, "\\.")}: `));
}

for (const store of STORES) {
  describe(`admin API (${store})`, () => {
    let cp: ControlPlaneProcess;
    let api: AxiosInstance;

    const createTemplate = async (body: Record<string, unknown> = {}) => {
      const res = await api.post("/admin/templates", { name: "tpl", imageName: "berth/test-worker:dev", ...body });
      assert.equal(res.status, 200, JSON.stringify(res.data));
      return res.data;
    };
    const createEndpoint = async (body: Record<string, unknown> = {}) => {
      const templateId = body.templateId ?? (await createTemplate()).id;
      const res = await api.post("/admin/endpoints", { name: "ep", templateId, ...body });
      assert.equal(res.status, 200, JSON.stringify(res.data));
      return res.data;
    };
    const createVolume = async (body: Record<string, unknown> = {}) => {
      const res = await api.post("/admin/network-volumes", { name: "models", size: 50, dataCenterId: "EU-RO-1", ...body });
      assert.equal(res.status, 200, JSON.stringify(res.data));
      return res.data;
    };
    /** What the store holds, read from its database: the only place a secret's value can be seen. */
    /** A spec as stored, its secret values decrypted after checking that they are stored encrypted. */
    const storedSpec = async (table: "templates" | "endpoints", id: string) => {
      const spec = JSON.parse(String((await cp.query(`SELECT spec FROM ${table} WHERE id = ?`, id))[0]!.spec));
      const box = SecretBox.load(cp.secretsKeyFile, { create: false });
      for (const key of spec.secretEnvKeys) {
        assert.ok(SecretBox.isSealed(spec.env[key]), `${table}.${key} is encrypted at rest`);
        spec.env[key] = box.open(spec.env[key]);
      }
      return spec;
    };

    before(async () => {
      cp = await ControlPlaneProcess.start({ store });
      api = apiClient(cp);
    });
    after(async () => {
      await cp?.stop();
      await cp?.removeData();
    });

    describe("auth", () => {
      test("no key, a wrong key and a worker key are refused with 401; /openapi.json needs none", async () => {
        const endpoint = await createEndpoint();
        const workerKey = (await api.get(`/admin/endpoints/${endpoint.id}/worker-env`)).data.env.RUNPOD_AI_API_KEY as string;
        assert.match(workerKey, /^bw_/);
        const bare = axios.create({ baseURL: cp.url, validateStatus: () => true });
        const attempts = [
          await bare.get("/admin/templates"),
          await bare.post("/admin/templates", { name: "x", imageName: "a" }),
          await apiClient(cp, "wrong-key-0123456789").get("/admin/endpoints"),
          await apiClient(cp, workerKey).get("/admin/endpoints"),
          await bare.get("/admin/endpoints", { headers: { Authorization: workerKey } }),
          await bare.get(`/admin/endpoints/${endpoint.id}/worker-env`, { headers: { Authorization: workerKey } }),
        ];
        for (const res of attempts) {
          assert.equal(res.status, 401, JSON.stringify(res.data));
          assert.equal(res.data.error, "unauthorized");
        }
        assert.equal((await bare.get("/openapi.json")).status, 200);
      });

      test("the API key works bare as well as Bearer", async () => {
        const bare = axios.create({ baseURL: cp.url, validateStatus: () => true, headers: { Authorization: cp.apiKey } });
        assert.equal((await bare.get("/admin/templates")).status, 200);
      });

      test("an unauthenticated request is refused before its body is read", async () => {
        const res = await axios.post(`${cp.url}/admin/templates`, '{"broken', {
          headers: { "Content-Type": "application/json" },
          transformRequest: RAW,
          validateStatus: () => true,
        });
        assert.equal(res.status, 401);
      });
    });

    describe("templates", () => {
      test("create answers RunPod's defaults, an id, and times", async () => {
        const before = Date.now();
        const t = await createTemplate({ name: "vllm", imageName: "runpod/worker-v1-vllm:v2.7.0" });
        assert.match(t.id, /^[a-z0-9]{12}$/);
        assert.equal(t.name, "vllm");
        assert.equal(t.imageName, "runpod/worker-v1-vllm:v2.7.0");
        assert.equal(t.containerDiskInGb, 50);
        assert.equal(t.volumeMountPath, "/runpod-volume");
        assert.deepEqual(t.ports, []);
        assert.deepEqual(t.env, {});
        assert.deepEqual(t.secretEnvKeys, []);
        assert.equal(t.startCommand, undefined);
        assert.deepEqual(t.usedBy, []);
        assert.ok(Date.parse(t.createdAt) >= before - 1000 && t.createdAt === t.updatedAt);
      });

      test("read, list, PATCH, PUT, DELETE", async () => {
        const t = await createTemplate({ startCommand: ["python", "-u", "handler.py"], env: { A: "1", B: "2" }, ports: ["8888/http"] });
        assert.deepEqual((await api.get(`/admin/templates/${t.id}`)).data, t);
        assert.ok((await api.get("/admin/templates")).data.some((x: { id: string }) => x.id === t.id));

        const patched = await api.patch(`/admin/templates/${t.id}`, { name: "renamed", env: { B: null, C: "3" }, startCommand: null });
        assert.equal(patched.status, 200, JSON.stringify(patched.data));
        assert.equal(patched.data.name, "renamed");
        assert.deepEqual(patched.data.env, { A: "1", C: "3" });
        assert.equal(patched.data.startCommand, undefined);
        assert.deepEqual(patched.data.ports, ["8888/http"], "fields the patch leaves out stay");
        assert.deepEqual(patched.data.rolledOut, []);

        const mergePatch = await api.patch(`/admin/templates/${t.id}`, '{"containerDiskInGb": 20}', {
          headers: { "Content-Type": "application/merge-patch+json" },
        });
        assert.equal(mergePatch.status, 200, JSON.stringify(mergePatch.data));
        assert.equal(mergePatch.data.containerDiskInGb, 20);

        const put = await api.put(`/admin/templates/${t.id}`, { name: "replaced", imageName: "alpine:3.20" });
        assert.equal(put.status, 200, JSON.stringify(put.data));
        assert.equal(put.data.name, "replaced");
        assert.deepEqual(put.data.env, {}, "PUT replaces the whole spec");
        assert.equal(put.data.containerDiskInGb, 50, "omitted fields take their defaults");
        assert.ok(Date.parse(put.data.updatedAt) >= Date.parse(t.updatedAt));
        assert.equal(put.data.createdAt, t.createdAt);

        assert.equal((await api.delete(`/admin/templates/${t.id}`)).status, 204);
        assert.equal((await api.get(`/admin/templates/${t.id}`)).status, 404);
        assert.ok(!(await api.get("/admin/templates")).data.some((x: { id: string }) => x.id === t.id));
      });

      test("a template used by an endpoint cannot be deleted; the 409 names the endpoint", async () => {
        const t = await createTemplate();
        const e = await createEndpoint({ templateId: t.id, name: "user-of-template" });
        const res = await api.delete(`/admin/templates/${t.id}`);
        assert.equal(res.status, 409);
        assert.equal(res.data.error, "in_use");
        assert.match(res.data.message, new RegExp(`${e.id} \\(user-of-template\\)`));
        assert.deepEqual(res.data.details.endpoints, [e.id]);
        assert.equal((await api.get(`/admin/templates/${t.id}`)).status, 200);
        assert.deepEqual((await api.get(`/admin/templates/${t.id}`)).data.usedBy, [{ id: e.id, name: "user-of-template", revision: 1 }]);
      });
    });

    describe("endpoints", () => {
      test("create answers RunPod's defaults, revision 1 and the client base URL", async () => {
        const t = await createTemplate();
        const e = await createEndpoint({ templateId: t.id, name: "sd" });
        assert.match(e.id, /^[a-z0-9]{12}$/);
        assert.deepEqual(
          {
            gpuTypeIds: e.gpuTypeIds,
            gpuCount: e.gpuCount,
            workersMin: e.workersMin,
            workersMax: e.workersMax,
            idleTimeout: e.idleTimeout,
            scalerType: e.scalerType,
            scalerValue: e.scalerValue,
            executionTimeoutMs: e.executionTimeoutMs,
            flashboot: e.flashboot,
            env: e.env,
          },
          {
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
          },
        );
        assert.equal(e.revision, 1);
        assert.equal(e.templateId, t.id);
        assert.equal(e.clientBaseUrl, `${cp.url}/v2`);
        assert.equal(e.networkVolumeId, undefined);
      });

      test("gpuTypeIds keep their priority order and resolve pools and exclusions", async () => {
        const e = await createEndpoint({ gpuTypeIds: ["NVIDIA H200", "AMPERE_80", "-NVIDIA A100 80GB PCIe"] });
        assert.deepEqual(e.gpuTypeIds, ["NVIDIA H200", "AMPERE_80", "-NVIDIA A100 80GB PCIe"]);
        assert.deepEqual(e.resolvedGpuTypeIds, ["NVIDIA H200", "NVIDIA A100-SXM4-80GB"]);
      });

      test("read, list, PATCH, PUT, DELETE, and the client API sees it come and go", async () => {
        const e = await createEndpoint({ workersMax: 5 });
        assert.deepEqual((await api.get(`/admin/endpoints/${e.id}`)).data, e);
        assert.ok((await api.get("/admin/endpoints")).data.some((x: { id: string }) => x.id === e.id));
        assert.equal((await api.get(`/v2/${e.id}/health`)).status, 200);

        const patched = await api.patch(`/admin/endpoints/${e.id}`, { workersMin: 1, idleTimeout: 60 });
        assert.equal(patched.status, 200, JSON.stringify(patched.data));
        assert.equal(patched.data.workersMin, 1);
        assert.equal(patched.data.workersMax, 5);
        assert.equal(patched.data.idleTimeout, 60);

        const put = await api.put(`/admin/endpoints/${e.id}`, { name: "replaced", templateId: e.templateId });
        assert.equal(put.status, 200, JSON.stringify(put.data));
        assert.equal(put.data.workersMax, 3, "PUT resets omitted fields to their defaults");
        assert.equal(put.data.workersMin, 0);

        assert.equal((await api.delete(`/admin/endpoints/${e.id}`)).status, 204);
        assert.equal((await api.get(`/admin/endpoints/${e.id}`)).status, 404);
        assert.equal((await api.get(`/v2/${e.id}/health`)).status, 404);
        assert.equal((await api.get(`/admin/endpoints/${e.id}/revisions`)).status, 404);
      });

      test("worker-env gives the RunPod worker variables for this endpoint", async () => {
        const e = await createEndpoint();
        const res = await api.get(`/admin/endpoints/${e.id}/worker-env`);
        assert.equal(res.status, 200);
        assert.equal(res.data.env.RUNPOD_ENDPOINT_ID, e.id);
        assert.equal(res.data.env.RUNPOD_WEBHOOK_GET_JOB, `${cp.url}/v2/${e.id}/job-take/$ID?`);
        // runpod-python's start-up checks dial 8.8.8.8 and end the worker where that fails: off unless the user says.
        assert.equal(res.data.env.RUNPOD_SKIP_AUTO_SYSTEM_CHECKS, "true");
        assert.equal((await api.patch(`/admin/endpoints/${e.id}`, { env: { RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "false" } })).status, 200);
        assert.equal((await api.get(`/admin/endpoints/${e.id}/worker-env`)).data.env.RUNPOD_SKIP_AUTO_SYSTEM_CHECKS, "false");
      });
    });

    describe("network volumes", () => {
      test("CRUD; size may grow", async () => {
        const v = await createVolume();
        assert.match(v.id, /^[a-z0-9]{12}$/);
        assert.deepEqual({ name: v.name, size: v.size, dataCenterId: v.dataCenterId, usedBy: v.usedBy }, {
          name: "models",
          size: 50,
          dataCenterId: "EU-RO-1",
          usedBy: [],
        });
        assert.deepEqual((await api.get(`/admin/network-volumes/${v.id}`)).data, v);
        assert.ok((await api.get("/admin/network-volumes")).data.some((x: { id: string }) => x.id === v.id));
        const grown = await api.patch(`/admin/network-volumes/${v.id}`, { size: 100 });
        assert.equal(grown.status, 200, JSON.stringify(grown.data));
        assert.equal(grown.data.size, 100);
        const put = await api.put(`/admin/network-volumes/${v.id}`, { name: "renamed", size: 100, dataCenterId: "EU-RO-1" });
        assert.equal(put.status, 200);
        assert.equal(put.data.name, "renamed");
        assert.equal((await api.delete(`/admin/network-volumes/${v.id}`)).status, 204);
        assert.equal((await api.get(`/admin/network-volumes/${v.id}`)).status, 404);
      });

      test("shrinking and moving are refused, naming the field and the rule, and change nothing", async () => {
        const v = await createVolume({ size: 100 });
        assertFieldError(await api.patch(`/admin/network-volumes/${v.id}`, { size: 99 }), "body.size", /can only grow.*99 GB.*100 GB/);
        assertFieldError(
          await api.put(`/admin/network-volumes/${v.id}`, { name: "models", size: 100, dataCenterId: "US-TX-3" }),
          "body.dataCenterId",
          /immutable.*EU-RO-1/,
        );
        assert.deepEqual((await api.get(`/admin/network-volumes/${v.id}`)).data, v);
      });

      test("an endpoint mounts an existing volume; the volume cannot be deleted while attached", async () => {
        const v = await createVolume({ dataCenterId: "US-TX-3" });
        assertFieldError(
          await api.post("/admin/endpoints", { name: "e", templateId: (await createTemplate()).id, networkVolumeId: "nosuchvolume" }),
          "body.networkVolumeId",
          /network volume nosuchvolume does not exist/,
        );
        assertFieldError(
          await api.post("/admin/endpoints", {
            name: "e",
            templateId: (await createTemplate()).id,
            networkVolumeId: v.id,
            dataCenterIds: ["EU-RO-1"],
          }),
          "body.dataCenterIds",
          /must include US-TX-3/,
        );
        const e = await createEndpoint({ networkVolumeId: v.id, dataCenterIds: ["US-TX-3", "EU-RO-1"] });
        const res = await api.delete(`/admin/network-volumes/${v.id}`);
        assert.equal(res.status, 409);
        assert.deepEqual(res.data.details.endpoints, [e.id]);
        assert.deepEqual((await api.get(`/admin/network-volumes/${v.id}`)).data.usedBy, [{ id: e.id, name: "ep", revision: 1 }]);
        // Detaching (a merge patch's null removes the field) frees it.
        const detached = await api.patch(`/admin/endpoints/${e.id}`, { networkVolumeId: null });
        assert.equal(detached.status, 200, JSON.stringify(detached.data));
        assert.equal(detached.data.networkVolumeId, undefined);
        assert.equal((await api.delete(`/admin/network-volumes/${v.id}`)).status, 204);
      });
    });

    describe("validation: 400 naming the field and the rule, never a 500", () => {
      let templateId: string;
      before(async () => {
        templateId = (await createTemplate()).id;
      });
      const endpoint = (body: Record<string, unknown>) => api.post("/admin/endpoints", { name: "e", templateId, ...body });

      test("workersMin greater than workersMax", async () => {
        assertFieldError(await endpoint({ workersMin: 4, workersMax: 2 }), "body.workersMin", /must not exceed workersMax/);
        assertFieldError(await endpoint({ workersMin: 4 }), "body.workersMin", /must not exceed workersMax \(4 > 3\)/);
      });

      test("idleTimeout out of 1..3600", async () => {
        assertFieldError(await endpoint({ idleTimeout: 0 }), "body.idleTimeout", />=1/);
        assertFieldError(await endpoint({ idleTimeout: 3601 }), "body.idleTimeout", /<=3600/);
        assertFieldError(await endpoint({ idleTimeout: 2.5 }), "body.idleTimeout", /expected int/);
      });

      test("unknown GPU type or pool", async () => {
        const res = await endpoint({ gpuTypeIds: ["ADA_24", "NVIDIA RTX 9999", "AMPERE_99", "-nvidia l4"] });
        assertFieldError(res, "body.gpuTypeIds.1", /unknown GPU type or pool id "NVIDIA RTX 9999"/);
        assertFieldError(res, "body.gpuTypeIds.2", /unknown GPU type or pool id "AMPERE_99"/);
        assertFieldError(res, "body.gpuTypeIds.3", /did you mean "NVIDIA L4"/);
        assertFieldError(await endpoint({ gpuTypeIds: ["AMPERE_80", "-AMPERE_80"] }), "body.gpuTypeIds", /leaves no GPU type/);
      });

      test("scalerValue, gpuCount and scalerType out of range", async () => {
        assertFieldError(await endpoint({ scalerValue: 0 }), "body.scalerValue", />=1/);
        assertFieldError(await endpoint({ scalerValue: 100_000 }), "body.scalerValue", /<=1000/);
        assertFieldError(await endpoint({ gpuCount: 9 }), "body.gpuCount", /<=8/);
        assertFieldError(await endpoint({ scalerType: "CPU" }), "body.scalerType", /QUEUE_DELAY/);
      });

      test("a templateId that does not exist", async () => {
        assertFieldError(await endpoint({ templateId: "nosuchtemplate" }), "body.templateId", /template nosuchtemplate does not exist/);
        const e = await createEndpoint({ templateId });
        assertFieldError(await api.patch(`/admin/endpoints/${e.id}`, { templateId: "gone" }), "body.templateId", /does not exist/);
      });

      test("malformed image references", async () => {
        const template = (imageName: unknown) => api.post("/admin/templates", { name: "t", imageName });
        assertFieldError(await template("my image:latest"), "body.imageName", /whitespace/);
        assertFieldError(await template("Berth/Worker:1"), "body.imageName", /lowercase/);
        assertFieldError(await template("berth/worker:"), "body.imageName", /empty tag/);
        assertFieldError(await template("berth/worker@sha256:abc"), "body.imageName", /digest/);
        assertFieldError(await template(42), "body.imageName", /string/);
        assertFieldError(await api.post("/admin/templates", { name: "t" }), "body.imageName", /string/);
      });

      test("unknown fields, by name", async () => {
        assertFieldError(await endpoint({ workresMax: 3 }), "body.workresMax", /not a field/);
        assertFieldError(await api.post("/admin/templates", { name: "t", imageName: "a", dockerArgs: "x" }), "body.dockerArgs", /not a field/);
        assertFieldError(
          await api.post("/admin/network-volumes", { name: "v", size: 1, dataCenterId: "EU-RO-1", sizeGb: 2 }),
          "body.sizeGb",
          /not a field/,
        );
      });

      test("env names, secret keys and ports", async () => {
        const template = (body: Record<string, unknown>) => api.post("/admin/templates", { name: "t", imageName: "a", ...body });
        assertFieldError(await template({ env: { "BAD-NAME": "x" } }), "body.env.BAD-NAME", /letters, digits/);
        assertFieldError(await template({ env: { RUNPOD_AI_API_KEY: "x" } }), "body.env.RUNPOD_AI_API_KEY", /set by the control plane/);
        assertFieldError(await template({ env: { A: "1" }, secretEnvKeys: ["B"] }), "body.secretEnvKeys.0", /names no variable/);
        assertFieldError(await template({ ports: ["http"] }), "body.ports.0", /PORT\/http/);
      });

      test("a bad update leaves the resource as it was", async () => {
        const e = await createEndpoint({ templateId, workersMax: 2 });
        assertFieldError(await api.patch(`/admin/endpoints/${e.id}`, { workersMin: 3 }), "body.workersMin", /must not exceed workersMax \(3 > 2\)/);
        assertFieldError(await api.put(`/admin/endpoints/${e.id}`, { name: "x", templateId, idleTimeout: -1 }), "body.idleTimeout", />=1/);
        assert.deepEqual((await api.get(`/admin/endpoints/${e.id}`)).data, e);
      });

      test("bodies that are not the right JSON", async () => {
        const e = await createEndpoint({ templateId });
        const malformed = await api.post("/admin/endpoints", '{"name": ', { headers: { "Content-Type": "application/json" }, transformRequest: RAW });
        assert.equal(malformed.status, 400);
        assert.equal(malformed.data.error, "malformed_json");
        const notObject = await api.patch(`/admin/endpoints/${e.id}`, [1, 2], { headers: { "Content-Type": "application/json" } });
        assert.equal(notObject.status, 400);
        assert.match(notObject.data.message, /must be a JSON object/);
        const empty = await api.post("/admin/endpoints", "", { headers: { "Content-Type": "application/json" }, transformRequest: RAW });
        assert.equal(empty.status, 400);
        assert.equal(empty.data.error, "malformed_json");
        const form = await api.post("/admin/endpoints", "name=e", { headers: { "Content-Type": "application/x-www-form-urlencoded" } });
        assert.equal(form.status, 415);
        assert.equal(form.data.error, "unsupported_media_type");
        // Without a body axios still labels a POST a form (the 415 above); with neither a body nor a type there is
        // no body to parse, so the schema refuses it as a missing object.
        const noBody = await api.post("/admin/network-volumes", undefined, { headers: { "Content-Type": false } });
        assertFieldError(noBody, "body", /expected object, received undefined/);
        const proto = await api.patch(`/admin/endpoints/${e.id}`, '{"__proto__": {"workersMax": 9}}', {
          headers: { "Content-Type": "application/json" },
          transformRequest: RAW,
        });
        assert.equal(proto.status, 400);
        assert.equal((await api.get(`/admin/endpoints/${e.id}`)).data.workersMax, 3);
      });
    });

    describe("revisions: only changes to what workers run roll out", () => {
      test("image and env changes bump the revision; scaling and names do not", async () => {
        const t = await createTemplate({ imageName: "berth/app:1" });
        const e = await createEndpoint({ templateId: t.id });
        const other = await createEndpoint(); // its own template: never rolls with t
        const revisionOf = async (id: string) => (await api.get(`/admin/endpoints/${id}`)).data.revision as number;

        for (const scaling of [{ workersMax: 10 }, { workersMin: 1, idleTimeout: 30 }, { scalerType: "REQUEST_COUNT", scalerValue: 2 }, { name: "renamed" }]) {
          const res = await api.patch(`/admin/endpoints/${e.id}`, scaling);
          assert.equal(res.status, 200, JSON.stringify(res.data));
          assert.equal(res.data.revision, 1, `${JSON.stringify(scaling)} is not a rollout`);
        }

        const envChange = await api.patch(`/admin/endpoints/${e.id}`, { env: { MODEL: "llama" } });
        assert.equal(envChange.data.revision, 2);
        const sameAgain = await api.patch(`/admin/endpoints/${e.id}`, { env: { MODEL: "llama" } });
        assert.equal(sameAgain.data.revision, 2, "an update that changes nothing is not a rollout");

        const rename = await api.patch(`/admin/templates/${t.id}`, { name: "new name", readme: "# hi" });
        assert.deepEqual(rename.data.rolledOut, []);
        assert.equal(await revisionOf(e.id), 2);

        const image = await api.patch(`/admin/templates/${t.id}`, { imageName: "berth/app:2" });
        assert.equal(image.status, 200, JSON.stringify(image.data));
        assert.deepEqual(image.data.rolledOut, [{ id: e.id, name: "renamed", revision: 3 }]);
        assert.deepEqual(image.data.usedBy, [{ id: e.id, name: "renamed", revision: 3 }]);
        assert.equal(await revisionOf(e.id), 3);
        assert.equal(await revisionOf(other.id), 1);

        const templateEnv = await api.patch(`/admin/templates/${t.id}`, { env: { LOG: "debug" } });
        assert.equal(templateEnv.data.rolledOut.length, 1);
        assert.equal(await revisionOf(e.id), 4);

        const gpus = await api.patch(`/admin/endpoints/${e.id}`, { gpuTypeIds: ["ADA_24"] });
        assert.equal(gpus.data.revision, 5);

        const revisions = (await api.get(`/admin/endpoints/${e.id}/revisions`)).data as Array<{
          revision: number;
          endpoint: { env: Record<string, string>; gpuTypeIds: string[] };
          template: { imageName: string; env: Record<string, string> };
          createdAt: string;
        }>;
        assert.deepEqual(revisions.map((r) => r.revision), [1, 2, 3, 4, 5]);
        assert.deepEqual(revisions.map((r) => r.template.imageName), ["berth/app:1", "berth/app:1", "berth/app:2", "berth/app:2", "berth/app:2"]);
        assert.deepEqual(revisions[1]!.endpoint.env, { MODEL: "llama" });
        assert.deepEqual(revisions[0]!.endpoint.env, {});
        assert.deepEqual(revisions[3]!.template.env, { LOG: "debug" });
        assert.deepEqual(revisions[4]!.endpoint.gpuTypeIds, ["ADA_24"]);
        assert.ok(revisions.every((r) => !Number.isNaN(Date.parse(r.createdAt))));
      });

      test("pointing an endpoint at another template rolls it out", async () => {
        const e = await createEndpoint();
        const t2 = await createTemplate({ imageName: "berth/other:1" });
        const moved = await api.patch(`/admin/endpoints/${e.id}`, { templateId: t2.id });
        assert.equal(moved.data.revision, 2);
        const revisions = (await api.get(`/admin/endpoints/${e.id}/revisions`)).data;
        assert.equal(revisions[1].template.imageName, "berth/other:1");
      });
    });

    describe("secrets", () => {
      test("are masked in every reply, kept when the mask is echoed back, and never logged", async () => {
        const t = await createTemplate({ env: { HF_TOKEN: SECRET, LEVEL: "debug" }, secretEnvKeys: ["HF_TOKEN"] });
        assert.deepEqual(t.env, { HF_TOKEN: "********", LEVEL: "debug" });
        const e = await createEndpoint({ templateId: t.id, env: { OPENAI_KEY: ENDPOINT_SECRET }, secretEnvKeys: ["OPENAI_KEY"] });
        assert.deepEqual(e.env, { OPENAI_KEY: "********" });

        const replies = [
          await api.get(`/admin/templates/${t.id}`),
          await api.get("/admin/templates"),
          await api.get(`/admin/endpoints/${e.id}`),
          await api.get("/admin/endpoints"),
          await api.get(`/admin/endpoints/${e.id}/revisions`),
          // A GET-edit-PUT round trip: the masked value goes back in.
          await api.put(`/admin/templates/${t.id}`, { ...stripView(t), readme: "edited" }),
          await api.patch(`/admin/endpoints/${e.id}`, { env: { OPENAI_KEY: "********", OTHER: "x" } }),
        ];
        for (const res of replies) {
          assert.equal(res.status, 200, JSON.stringify(res.data));
          const text = JSON.stringify(res.data);
          assert.ok(!text.includes(SECRET) && !text.includes(ENDPOINT_SECRET), `a secret in ${res.config.method} ${res.config.url}: ${text}`);
          assert.ok(text.includes("********"));
        }

        assert.equal((await storedSpec("templates", t.id)).env.HF_TOKEN, SECRET, "echoing the mask keeps the secret");
        assert.equal((await storedSpec("endpoints", e.id)).env.OPENAI_KEY, ENDPOINT_SECRET);
        assert.equal((await api.get(`/admin/endpoints/${e.id}`)).data.revision, 2, "adding OTHER rolled out; the secret did not change");

        const replaced = await api.patch(`/admin/templates/${t.id}`, { env: { HF_TOKEN: "hf_new" } });
        assert.equal(replaced.data.env.HF_TOKEN, "********");
        assert.equal((await storedSpec("templates", t.id)).env.HF_TOKEN, "hf_new");

        const logs = cp.logs.join("\n");
        assert.ok(!logs.includes(SECRET) && !logs.includes(ENDPOINT_SECRET) && !logs.includes("hf_new"));
      });
    });

    describe("unknown ids answer 404", () => {
      for (const resource of ["templates", "endpoints", "network-volumes"]) {
        test(resource, async () => {
          const responses = [
            await api.get(`/admin/${resource}/nosuchid`),
            await api.patch(`/admin/${resource}/nosuchid`, { name: "x" }),
            await api.put(`/admin/${resource}/nosuchid`, { name: "x" }),
            await api.delete(`/admin/${resource}/nosuchid`),
          ];
          for (const res of responses) {
            assert.equal(res.status, 404, `${res.config.method} ${res.config.url}: ${JSON.stringify(res.data)}`);
            assert.equal(res.data.error, "not_found");
            assert.match(res.data.message, /nosuchid does not exist/);
          }
        });
      }
      test("revisions and worker-env of an unknown endpoint", async () => {
        assert.equal((await api.get("/admin/endpoints/nosuchid/revisions")).status, 404);
        assert.equal((await api.get("/admin/endpoints/nosuchid/worker-env")).status, 404);
      });
    });

    test("GET /admin/gpu-types lists the table", async () => {
      const res = await api.get("/admin/gpu-types");
      assert.equal(res.status, 200);
      const h100 = res.data.types.find((t: { id: string }) => t.id === "NVIDIA H100 80GB HBM3");
      assert.deepEqual(h100, {
        id: "NVIDIA H100 80GB HBM3",
        smiName: "NVIDIA H100 80GB HBM3",
        kubernetesProduct: "NVIDIA-H100-80GB-HBM3",
        memoryGb: 80,
        pool: "ADA_80_PRO",
      });
      assert.deepEqual(res.data.pools.HOPPER_141, ["NVIDIA H200"]);
    });

    describe("/openapi.json", () => {
      test("an OpenAPI 3.1 document with the admin, client and worker paths and the zod-made schemas", async () => {
        const res = await axios.get(`${cp.url}/openapi.json`, { responseType: "text", validateStatus: () => true });
        assert.equal(res.status, 200);
        assert.match(String(res.headers["content-type"]), /application\/json/);
        const doc = JSON.parse(res.data);
        assert.equal(doc.openapi, "3.1.0");
        for (const p of [
          "/admin/templates",
          "/admin/templates/{id}",
          "/admin/endpoints",
          "/admin/endpoints/{id}",
          "/admin/endpoints/{id}/revisions",
          "/admin/endpoints/{id}/worker-env",
          "/admin/network-volumes",
          "/admin/network-volumes/{id}",
          "/v2/{endpointId}/run",
          "/v2/{endpointId}/runsync",
          "/v2/{endpointId}/status/{jobId}",
          "/v2/{endpointId}/status-sync/{jobId}",
          "/v2/{endpointId}/stream/{jobId}",
          "/v2/{endpointId}/cancel/{jobId}",
          "/v2/{endpointId}/retry/{jobId}",
          "/v2/{endpointId}/purge-queue",
          "/v2/{endpointId}/health",
          "/v2/{endpointId}/job-take/{workerId}",
          "/v2/{endpointId}/job-take-batch/{workerId}",
          "/v2/{endpointId}/job-done/{workerId}/{jobId}",
          "/v2/{endpointId}/job-stream/{workerId}/{jobId}",
          "/v2/{endpointId}/ping/{workerId}",
          "/v2/{endpointId}/job-stop/{workerId}",
        ]) {
          assert.ok(doc.paths[p], `missing path ${p}`);
        }
        // Each documented path is a route with exactly the documented methods: a method it lacks answers 405, and
        // its Allow names the documented ones (HEAD comes with GET).
        const METHODS = ["get", "post", "put", "patch", "delete"];
        for (const [template, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
          const methods = Object.keys(item).filter((k) => METHODS.includes(k));
          const missing = METHODS.find((m) => !methods.includes(m));
          assert.ok(missing, `${template} documents every method`);
          const url = template.replace(/\{[^}]+\}/g, "x");
          const refused = await api.request({ method: missing, url });
          assert.equal(refused.status, 405, `${missing.toUpperCase()} ${url}: ${JSON.stringify(refused.data)}`);
          const allowed = [...methods, ...(methods.includes("get") ? ["head"] : [])].map((m) => m.toUpperCase()).sort();
          assert.deepEqual(String(refused.headers.allow).split(", "), allowed, `Allow of ${template}`);
        }
        // The request and reply schemas are checked against what the routes accept and answer in job-api.test.ts.
        const schemas = doc.components.schemas;
        assert.equal(schemas.EndpointInput.properties.idleTimeout.maximum, 3600);
        assert.equal(schemas.EndpointInput.additionalProperties, false);
        assert.deepEqual(schemas.TemplateInput.required, ["name", "imageName"]);
        assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ["apiKey", "workerKey"]);
        assert.deepEqual(doc.paths["/v2/{endpointId}/job-take/{workerId}"].get.security, [{ workerKey: [] }]);
        // Every $ref points at something the document defines.
        const refs = [...String(res.data).matchAll(/"\$ref":"#\/components\/([^/"]+)\/([^"]+)"/g)];
        assert.ok(refs.length > 0);
        for (const [, section, name] of refs) assert.ok(doc.components[section!]?.[name!], `dangling $ref ${section}/${name}`);
      });
    });
  });

  describe(`admin resources survive a restart (${store})`, () => {
    test("templates, endpoints with their revisions, and volumes read back the same", async () => {
      let cp = await ControlPlaneProcess.start({ store });
      try {
        const api = apiClient(cp);
        const volume = (await api.post("/admin/network-volumes", { name: "v", size: 10, dataCenterId: "EU-RO-1" })).data;
        const template = (await api.post("/admin/templates", { name: "t", imageName: "berth/app:1" })).data;
        const created = await api.post("/admin/endpoints", { name: "e", templateId: template.id, networkVolumeId: volume.id });
        assert.equal(created.status, 200, JSON.stringify(created.data));
        await api.patch(`/admin/templates/${template.id}`, { imageName: "berth/app:2" });
        const before = {
          template: (await api.get(`/admin/templates/${template.id}`)).data,
          endpoint: (await api.get(`/admin/endpoints/${created.data.id}`)).data,
          revisions: (await api.get(`/admin/endpoints/${created.data.id}/revisions`)).data,
          volume: (await api.get(`/admin/network-volumes/${volume.id}`)).data,
        };
        assert.equal(before.endpoint.revision, 2);

        await cp.kill(); // no clean shutdown: what was acknowledged must already be on disk
        cp = await cp.restart();
        const again = apiClient(cp);
        assert.deepEqual((await again.get(`/admin/templates/${template.id}`)).data, before.template);
        assert.deepEqual((await again.get(`/admin/endpoints/${created.data.id}`)).data, before.endpoint);
        assert.deepEqual((await again.get(`/admin/endpoints/${created.data.id}/revisions`)).data, before.revisions);
        assert.deepEqual((await again.get(`/admin/network-volumes/${volume.id}`)).data, before.volume);
      } finally {
        await cp.stop();
        await cp.removeData();
      }
    });
  });
}

/** A template reply turned back into a PUT body: the spec fields only. */
function stripView(view: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, usedBy: _usedBy, createdAt: _c, updatedAt: _u, rolledOut: _r, ...spec } = view;
  return spec;
}
