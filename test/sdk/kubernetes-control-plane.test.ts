// What KubernetesControlPlane declares, read through Pulumi's runtime mocks (no cluster, no engine): on PostgreSQL
// several replicas that roll one at a time, a PodDisruptionBudget, scratch space instead of a claim and the
// database URL only in the Secret; on SQLite today's single replica on a claim; and the rule between the two.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesControlPlane, type KubernetesControlPlaneArgs } from "../../sdk/kubernetes";

const DATABASE = "postgres://berth:db-password-7f3a@db.internal:5432/berth";
const REQUIRED = { namespace: "berth", image: "berth/control-plane:test", apiKey: "key-0123456789abcdef" };

/** A resource the control plane declared, with its inputs as given (Outputs included) and as they resolve. */
interface Declared {
  type: string;
  props: Record<string, unknown>;
  resolved: Record<string, any>;
}

before(async () => {
  // The mocked engine answers every registration with its inputs as the resource's state.
  await pulumi.runtime.setMocks({ newResource: (r) => ({ id: `${r.name}-id`, state: r.inputs }), call: (c) => c.inputs }, "berth", "test");
});

const resolve = <T>(value: pulumi.Input<T>): Promise<pulumi.Unwrap<T>> => new Promise((done) => pulumi.output(value).apply(done));

/** Declares a control plane and collects its children as it declares them (a transformation sees each one). */
async function declare(args: Partial<KubernetesControlPlaneArgs>): Promise<Declared[]> {
  const children: Array<{ type: string; props: Record<string, unknown> }> = [];
  new KubernetesControlPlane("cp", { ...REQUIRED, ...args }, { transformations: [(child) => void children.push(child)] });
  return Promise.all(children.map(async ({ type, props }) => ({ type, props, resolved: (await resolve(props)) as Record<string, any> })));
}

const ofType = (resources: Declared[], type: string) => resources.filter((r) => r.type === type);

function deploymentOf(resources: Declared[]) {
  const [deployment] = ofType(resources, "kubernetes:apps/v1:Deployment");
  assert.ok(deployment, "a Deployment is declared");
  return deployment.resolved.spec;
}

test("with a database: two replicas by default, rolling one at a time without one less, and time to hand back", async () => {
  const spec = deploymentOf(await declare({ database: DATABASE }));
  assert.equal(spec.replicas, 2);
  assert.deepEqual(spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  assert.equal(spec.template.spec.terminationGracePeriodSeconds, 60);
  assert.deepEqual(spec.template.spec.containers[0].readinessProbe, { httpGet: { path: "/readyz", port: 8910 } });
});

test("with a database: a PodDisruptionBudget of one selecting the control plane's own pods", async () => {
  const resources = await declare({ database: DATABASE });
  const budgets = ofType(resources, "kubernetes:policy/v1:PodDisruptionBudget");
  assert.equal(budgets.length, 1, "one PodDisruptionBudget");
  assert.equal(budgets[0]!.resolved.spec.maxUnavailable, 1);
  assert.deepEqual(budgets[0]!.resolved.spec.selector.matchLabels, deploymentOf(resources).template.metadata.labels, "it selects the Deployment's pods");
});

test("with a database: no claim, an emptyDir at /data, and BERTH_DATABASE_URL read from the Secret", async () => {
  const resources = await declare({ database: DATABASE });
  assert.deepEqual(ofType(resources, "kubernetes:core/v1:PersistentVolumeClaim"), [], "no PersistentVolumeClaim");
  const pod = deploymentOf(resources).template.spec;
  const [secret, keySecret] = ofType(resources, "kubernetes:core/v1:Secret");
  // The key of secret env values at rest: a file from a Secret of its own, which every replica mounts.
  assert.deepEqual(pod.volumes, [
    { name: "data", emptyDir: {} },
    { name: "secrets-key", secret: { secretName: keySecret!.resolved.metadata.name, defaultMode: 0o400, items: [{ key: "secretsKey", path: "secrets.key" }] } },
  ]);
  assert.deepEqual(pod.containers[0].volumeMounts, [
    { name: "data", mountPath: "/data" },
    { name: "secrets-key", mountPath: "/etc/berth/secrets-key", readOnly: true },
  ]);
  assert.ok(pod.containers[0].env.some((e: { name: string; value?: string }) => e.name === "BERTH_SECRETS_KEY_FILE" && e.value === "/etc/berth/secrets-key/secrets.key"));
  assert.equal(Buffer.from(keySecret!.resolved.stringData.secretsKey, "base64").length, 32, "a generated 32-byte key");

  assert.equal(secret!.resolved.stringData.databaseUrl, DATABASE, "the Secret holds the URL");
  const variable = pod.containers[0].env.find((e: { name: string }) => e.name === "BERTH_DATABASE_URL");
  assert.deepEqual(variable, { name: "BERTH_DATABASE_URL", valueFrom: { secretKeyRef: { name: secret!.resolved.metadata.name, key: "databaseUrl" } } });
});

test("the database URL is a secret, and no resource but the Secret carries it", async () => {
  const resources = await declare({ database: DATABASE });
  const [secret] = ofType(resources, "kubernetes:core/v1:Secret");
  const stringData = secret!.props.stringData as Record<string, pulumi.Output<string>>;
  // Given as a plain string here: what reaches the Secret is a secret output all the same, so state encrypts it.
  assert.equal(await pulumi.isSecret(stringData.databaseUrl!), true, "the URL in the Secret is a secret output");
  const elsewhere = resources.filter((r) => r !== secret).map((r) => JSON.stringify(r.resolved));
  assert.ok(!elsewhere.some((text) => text.includes("db-password-7f3a")), "no other resource's inputs show the password");
});

test("without a database: today's single replica, Recreate, on a claim, and no PodDisruptionBudget", async () => {
  const resources = await declare({});
  const spec = deploymentOf(resources);
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.strategy, { type: "Recreate" });
  const [claim] = ofType(resources, "kubernetes:core/v1:PersistentVolumeClaim");
  assert.ok(claim, "a PersistentVolumeClaim holds the SQLite store");
  assert.deepEqual(spec.template.spec.volumes, [{ name: "data", persistentVolumeClaim: { claimName: claim.resolved.metadata.name } }]);
  assert.equal(spec.template.spec.containers[0].env.some((e: { name: string }) => e.name === "BERTH_DATABASE_URL"), false);
  assert.deepEqual(ofType(resources, "kubernetes:policy/v1:PodDisruptionBudget"), []);
  assert.deepEqual(spec.template.spec.containers[0].readinessProbe, { httpGet: { path: "/readyz", port: 8910 } }, "/readyz in both modes");
});

test("a single replica on a database rolls the same way but has no PodDisruptionBudget", async () => {
  const resources = await declare({ database: DATABASE, replicas: 1 });
  const spec = deploymentOf(resources);
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }, "the new pod is ready before the old one stops");
  assert.deepEqual(ofType(resources, "kubernetes:policy/v1:PodDisruptionBudget"), [], "a budget of one for one pod would only block drains");
});

test("several replicas without a database are refused, naming replicas and the one-writer rule", () => {
  assert.throws(
    () => new KubernetesControlPlane("cp", { ...REQUIRED, replicas: 3 }),
    (err: Error) => pulumi.RunError.isInstance(err) && /replicas: must be 1 without database \(got 3\): SQLite has one writer/.test(err.message),
  );
});

test("a replica count that is not a whole number of at least one is refused, naming replicas", () => {
  for (const replicas of [0, 1.5]) {
    assert.throws(
      () => new KubernetesControlPlane("cp", { ...REQUIRED, database: DATABASE, replicas }),
      (err: Error) => pulumi.RunError.isInstance(err) && err.message.includes(`replicas: must be a whole number of at least 1 (got ${replicas})`),
    );
  }
});

test("the Secret is named by Pulumi, so a changed key or URL replaces it under a new name and the pods roll over", async () => {
  const [secret] = ofType(await declare({ database: DATABASE }), "kubernetes:core/v1:Secret");
  assert.equal(secret!.resolved.metadata.name, undefined, "no fixed name: Pulumi names it, and names its replacement anew");
});

test("nodeSelector and tolerations place its pods, and are absent unless given", async () => {
  const tolerations = [{ key: "dedicated", operator: "Equal", value: "control-plane", effect: "NoSchedule" }];
  const placed = deploymentOf(await declare({ database: DATABASE, nodeSelector: { pool: "cpu" }, tolerations })).template.spec;
  assert.deepEqual(placed.nodeSelector, { pool: "cpu" });
  assert.deepEqual(placed.tolerations, tolerations);
  const anywhere = deploymentOf(await declare({ database: DATABASE })).template.spec;
  assert.equal(anywhere.nodeSelector, undefined);
  assert.equal(anywhere.tolerations, undefined);
});
