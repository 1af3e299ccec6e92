// examples/production through the real Pulumi CLI: the ApiKey resource's keys made with their secret only in the (encrypted) state, a
// run key for the program's endpoint, a change that makes a new key and revokes the old, a bad input refused at
// preview, and a destroy that revokes.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient } from "../helpers/endpoint";
import { PulumiWorkspace } from "../helpers/pulumi-cli";
import { keySecret } from "../helpers/api-key";

const PROGRAM = path.resolve(__dirname, "../../examples/production");

describe("ApiKey through the real Pulumi CLI", () => {
  let cp: ControlPlaneProcess;
  let ws: PulumiWorkspace;
  const outputs = async () => JSON.parse((await ws.mustRun("stack", "output", "--json", "--show-secrets")).stdout) as Record<string, string>;

  before(async () => {
    cp = await ControlPlaneProcess.start();
    ws = await PulumiWorkspace.create(PROGRAM, "dev");
    await ws.mustRun("config", "set", "berth:url", cp.url);
    await ws.mustRun("config", "set", "--secret", "berth:apiKey", cp.apiKey);
  });
  after(async () => {
    ws?.remove();
    await cp?.stop();
    await cp?.removeData();
  });

  test("up makes the keys: secret outputs, kept encrypted in state, working with their scopes", async () => {
    const up = await ws.mustRun("up", "--yes");
    const { endpointId, appKey, dashboardKey } = await outputs();
    assert.match(appKey!, /^bk_[0-9a-f]{16}_/);
    assert.ok(!up.stdout.includes(appKey!) && !up.stdout.includes(dashboardKey!), "up prints no key");
    const shown = JSON.parse((await ws.mustRun("stack", "output", "--json")).stdout);
    assert.equal(shown.appKey, "[secret]");
    const state = (await ws.mustRun("stack", "export")).stdout;
    assert.ok(!state.includes(keySecret(appKey!)) && !state.includes(keySecret(dashboardKey!)), "no key in plain text in the state");

    const app = apiClient(cp, appKey!);
    assert.equal((await app.get(`/v2/${endpointId}/health`)).status, 200);
    assert.equal((await app.get("/admin/endpoints")).status, 403);
    const dashboard = apiClient(cp, dashboardKey!);
    assert.equal((await dashboard.get("/admin/overview")).status, 200);
    assert.equal((await dashboard.get(`/v2/${endpointId}/health`)).status, 403);

    const noop = await ws.mustRun("preview", "--diff", "--expect-no-changes");
    assert.ok(!noop.stdout.includes(appKey!));
  });

  test("a changed key is replaced: the new one works, the old one is revoked", async () => {
    const before = await outputs();
    await ws.mustRun("config", "set", "appKeyExpiresAt", new Date(Date.now() + 86_400_000).toISOString());
    const preview = await ws.mustRun("preview", "--diff");
    assert.match(preview.stdout, /\+-pulumi-nodejs:dynamic\/berth:ApiKey: \(replace\)\s+\[id=\w+\]\s+\[urn=[^\]]*ApiKey::app\]/, preview.stdout);
    assert.match(preview.stdout, /\+-1 to replace/);
    await ws.mustRun("up", "--yes");
    const after = await outputs();
    assert.notEqual(after.appKeyId, before.appKeyId);
    assert.equal((await apiClient(cp, after.appKey!).get(`/v2/${after.endpointId}/health`)).status, 200);
    assert.equal((await apiClient(cp, before.appKey!).get(`/v2/${after.endpointId}/health`)).status, 401);
  });

  test("bad inputs are refused at preview, naming the field", async () => {
    await ws.mustRun("config", "set", "appKeyExpiresAt", "next tuesday");
    const preview = await ws.run("preview");
    assert.notEqual(preview.code, 0);
    assert.match(preview.stdout + preview.stderr, /expiresAt: /);
    await ws.mustRun("config", "rm", "appKeyExpiresAt");
    await ws.mustRun("config", "set", "--path", "rateLimits.run.requestsPer10s", "0");
    const limits = await ws.run("preview");
    assert.notEqual(limits.code, 0);
    assert.match(limits.stdout + limits.stderr, /rateLimits\.run\.requestsPer10s: /);
    await ws.mustRun("config", "rm", "rateLimits");
  });

  test("destroy revokes the keys", async () => {
    const { appKey, dashboardKey, endpointId } = await outputs();
    await ws.mustRun("destroy", "--yes");
    assert.equal((await apiClient(cp, appKey!).get(`/v2/${endpointId}/health`)).status, 401);
    assert.equal((await apiClient(cp, dashboardKey!).get("/admin/overview")).status, 401);
    const keys = (await apiClient(cp).get("/admin/keys")).data as Array<{ status: string }>;
    assert.ok(keys.length >= 2 && keys.every((k) => k.status === "revoked"), JSON.stringify(keys));
  });
});
