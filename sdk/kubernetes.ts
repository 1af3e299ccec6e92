import crypto from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** The port the control plane listens on in its pod, and its Service's. */
const PORT = 8910;
const NAME = "berth-control-plane";
/** The key of the database URL in the control plane's Secret, beside `apiKey`. */
const DATABASE_KEY = "databaseUrl";
/** Where a control plane on PostgreSQL finds the key of secret env values at rest: a file from its own Secret. */
const SECRETS_KEY_DIR = "/etc/berth/secrets-key";
const SECRETS_KEY_FILE = "secrets.key";

export interface KubernetesControlPlaneArgs {
  /** The namespace it is installed in and runs its workers in; created (and deleted) with it. */
  namespace: pulumi.Input<string>;
  /** The control-plane image (`berth image build` builds one), pushed where the cluster pulls from. */
  image: pulumi.Input<string>;
  /** Its API key; give it as a secret (`config.requireSecret`). Kept in a Kubernetes Secret. */
  apiKey: pulumi.Input<string>;
  /**
   * Where Pulumi and clients reach its APIs from outside the cluster (an Ingress, a LoadBalancer, a port-forward).
   * Default: the in-cluster Service URL, for programs that run inside the cluster.
   */
  externalUrl?: pulumi.Input<string>;
  /**
   * PostgreSQL 15 or newer to keep its store in (`postgres://user:password@host:5432/berth`); give it as a secret
   * (`config.requireSecret`). Kept in the Kubernetes Secret beside the API key. With it, `replicas` control planes
   * share the database and roll one at a time; without it, one control plane keeps SQLite on a claim.
   */
  database?: pulumi.Input<string>;
  /**
   * With `database`: the key secret env values are encrypted with in it (32 random bytes in base64), shared by every
   * replica. Default: one generated at the first `pulumi up` and kept in a Secret of its own that later runs leave as
   * it is. Give one (as a secret) to bring the key of a store copied with `berth store copy`, or to keep it elsewhere.
   */
  secretsKey?: pulumi.Input<string>;
  /**
   * How many control planes run; default 2 with `database`, and only 1 without (SQLite has one writer). A plain
   * number, not an Input: it decides whether a PodDisruptionBudget exists.
   */
  replicas?: number;
  /** Storage class of the claim holding its SQLite store (without `database`); default the cluster's. */
  storageClass?: pulumi.Input<string>;
  /** Size of that claim; default 10Gi. */
  storageSize?: pulumi.Input<string>;
  /** Access mode of that claim; default ReadWriteOnce (one pod writes the store: the Deployment is Recreate). */
  storageAccessMode?: pulumi.Input<string>;
  /** Storage class of network volumes' claims (ReadWriteMany, expandable); default the cluster's. */
  workerStorageClass?: pulumi.Input<string>;
  logLevel?: pulumi.Input<string>;
  /**
   * Where its pods may run, e.g. CPU nodes apart from the GPU nodes its workers take: the pods' nodeSelector and
   * tolerations, as Kubernetes reads them. Default: any node without a taint.
   */
  nodeSelector?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  tolerations?: pulumi.Input<pulumi.Input<k8s.types.input.core.v1.Toleration>[]>;
}

/**
 * How many control planes to run, checked before anything is registered: several only on PostgreSQL, since a
 * SQLite store has one writer.
 */
function replicasOf(name: string, args: KubernetesControlPlaneArgs): number {
  const onPostgres = args.database !== undefined;
  const replicas = args.replicas ?? (onPostgres ? 2 : 1);
  const refuse = (rule: string) => new pulumi.RunError(`KubernetesControlPlane ${name}: replicas: ${rule}`);
  if (!Number.isInteger(replicas) || replicas < 1) throw refuse(`must be a whole number of at least 1 (got ${replicas})`);
  if (replicas > 1 && !onPostgres) {
    throw refuse(`must be 1 without database (got ${replicas}): SQLite has one writer; give database (PostgreSQL) to run several`);
  }
  return replicas;
}

/**
 * On PostgreSQL a new pod is ready before an old one stops (maxUnavailable 0), one at a time; on SQLite the old
 * pod stops first, as the store and its claim have one writer.
 */
function rolloutStrategy(onPostgres: boolean): k8s.types.input.apps.v1.DeploymentStrategy {
  return onPostgres ? { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } : { type: "Recreate" };
}

/** The claim holding the SQLite store, which outlives the pod. */
function sqliteClaim(
  name: string,
  args: KubernetesControlPlaneArgs,
  meta: k8s.types.input.meta.v1.ObjectMeta,
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.PersistentVolumeClaim {
  return new k8s.core.v1.PersistentVolumeClaim(
    name,
    {
      metadata: { ...meta, name: `${NAME}-data` },
      spec: {
        accessModes: [args.storageAccessMode ?? "ReadWriteOnce"],
        storageClassName: args.storageClass,
        resources: { requests: { storage: args.storageSize ?? "10Gi" } },
      },
    },
    opts,
  );
}

/**
 * The Secret holding the key of secret env values on PostgreSQL. A generated key is made anew by every run of the
 * program, so the Secret ignores changes to its data: the first one stays, as the database's ciphertext needs.
 */
function secretsKeySecret(
  name: string,
  args: KubernetesControlPlaneArgs,
  namespace: pulumi.Input<string>,
  labels: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Secret {
  const given = args.secretsKey !== undefined;
  const key = pulumi.secret(args.secretsKey ?? crypto.randomBytes(32).toString("base64"));
  return new k8s.core.v1.Secret(
    `${name}-secrets-key`,
    { metadata: { namespace, labels }, stringData: { secretsKey: key } },
    given ? opts : { ...opts, ignoreChanges: ["stringData", "data"] },
  );
}

/**
 * Berth's control plane installed in a Kubernetes cluster with @pulumi/kubernetes: its namespace, a service
 * account whose Role reaches only that namespace, its API key (and database URL) as a Secret, a Deployment and a
 * Service. It runs `--runtime kubernetes`, so the endpoints created through it run as Deployments beside it. Give
 * it to Templates, NetworkVolumes and Endpoints as `controlPlane`, like the Docker `ControlPlane`.
 *
 * Without `database` its store is SQLite on a claim: one replica, and a Recreate rollout, because a SQLite file has
 * one writer and a ReadWriteOnce claim one pod; an upgrade stops the API until the new pod is up. With `database`
 * (PostgreSQL) several replicas share the store and elect a leader through it, so an upgrade rolls one pod at a
 * time without losing one (maxUnavailable 0), a drain leaves one at most down (a PodDisruptionBudget), and a
 * stopping pod, unready from SIGTERM (/readyz), has 60 s to hand its long-polls back. No claim then: /data is a
 * scratch directory, since the store is the database and the API key comes from the Secret.
 */
export class KubernetesControlPlane extends pulumi.ComponentResource {
  /** Where the other resources (and clients) reach its APIs: `externalUrl`, else `serviceUrl`. */
  readonly url: pulumi.Output<string>;
  /** The in-cluster address workers use: http://berth-control-plane.<namespace>.svc.cluster.local:8910. */
  readonly serviceUrl: pulumi.Output<string>;
  readonly apiKey: pulumi.Output<string>;
  readonly namespace: pulumi.Output<string>;

  constructor(name: string, args: KubernetesControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    const replicas = replicasOf(name, args);
    super("berth:index:KubernetesControlPlane", name, {}, opts);
    const parent = { parent: this };
    const labels = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "berth", "app.kubernetes.io/instance": name };

    const namespace = new k8s.core.v1.Namespace(name, { metadata: { name: args.namespace, labels } }, parent);
    const ns = namespace.metadata.name;
    const meta = { name: NAME, namespace: ns, labels };
    const inNamespace = { parent: this, dependsOn: [namespace] };

    const account = new k8s.core.v1.ServiceAccount(name, { metadata: meta }, inNamespace);
    // Everything the Kubernetes runtime does (server/runtimes/kubernetes/cluster.ts), in its namespace only.
    const role = new k8s.rbac.v1.Role(
      name,
      {
        metadata: meta,
        rules: [
          { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
          { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "patch"] },
          { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "patch"] },
          { apiGroups: [""], resources: ["pods/status"], verbs: ["patch"] },
          { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create", "delete"] },
          { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
          // The workers view's CPU and memory figures, where the cluster runs metrics-server.
          { apiGroups: ["metrics.k8s.io"], resources: ["pods"], verbs: ["get", "list"] },
        ],
      },
      inNamespace,
    );
    const binding = new k8s.rbac.v1.RoleBinding(
      name,
      {
        metadata: meta,
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace: ns }],
      },
      inNamespace,
    );
    const apiKey = pulumi.secret(args.apiKey);
    const database = args.database === undefined ? undefined : pulumi.secret(args.database);
    // Named by Pulumi, not fixed: a changed key or URL replaces the Secret under a new name (Secrets are immutable to
    // the Kubernetes provider), so the pods that read it at start roll over to it.
    const keySecret = new k8s.core.v1.Secret(
      name,
      { metadata: { namespace: ns, labels }, stringData: { apiKey, ...(database ? { [DATABASE_KEY]: database } : {}) } },
      inNamespace,
    );
    const fromSecret = (key: string) => ({ valueFrom: { secretKeyRef: { name: keySecret.metadata.name, key } } });
    const serviceUrl = pulumi.interpolate`http://${NAME}.${ns}.svc.cluster.local:${PORT}`;
    const env = [
      { name: "BERTH_RUNTIME", value: "kubernetes" },
      { name: "BERTH_KUBE_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "BERTH_CONTROL_PLANE_ID", value: ns },
      { name: "BERTH_PUBLIC_URL", value: serviceUrl },
      { name: "BERTH_API_KEYS", ...fromSecret("apiKey") },
      ...(database ? [{ name: "BERTH_DATABASE_URL", ...fromSecret(DATABASE_KEY) }] : []),
      ...(args.workerStorageClass ? [{ name: "BERTH_KUBE_STORAGE_CLASS", value: args.workerStorageClass }] : []),
      ...(args.logLevel ? [{ name: "BERTH_LOG_LEVEL", value: args.logLevel }] : []),
    ];
    const secretsKey = database ? secretsKeySecret(name, args, ns, labels, inNamespace) : undefined;
    if (secretsKey) env.push({ name: "BERTH_SECRETS_KEY_FILE", value: `${SECRETS_KEY_DIR}/${SECRETS_KEY_FILE}` });
    const dataVolume = database
      ? { name: "data", emptyDir: {} }
      : { name: "data", persistentVolumeClaim: { claimName: sqliteClaim(name, args, meta, inNamespace).metadata.name } };
    const deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: meta,
        spec: {
          replicas,
          strategy: rolloutStrategy(database !== undefined),
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: account.metadata.name,
              nodeSelector: args.nodeSelector,
              tolerations: args.tolerations,
              // Time for a stopping replica to hand its long-polls and runsync waits back to the others.
              ...(database ? { terminationGracePeriodSeconds: 60 } : {}),
              containers: [
                {
                  name: "control-plane",
                  image: args.image,
                  args: ["server", "--host", "0.0.0.0", "--port", String(PORT), "--data-dir", "/data"],
                  env,
                  ports: [{ name: "http", containerPort: PORT }],
                  // Unready from the moment it starts draining, so the Service stops sending it new requests.
                  readinessProbe: { httpGet: { path: "/readyz", port: PORT } },
                  volumeMounts: [
                    { name: "data", mountPath: "/data" },
                    ...(secretsKey ? [{ name: "secrets-key", mountPath: SECRETS_KEY_DIR, readOnly: true }] : []),
                  ],
                },
              ],
              volumes: [
                dataVolume,
                // A file, owner-only (the image runs as root): unlike env, it shows in no pod spec and no process listing.
                ...(secretsKey
                  ? [{ name: "secrets-key", secret: { secretName: secretsKey.metadata.name, defaultMode: 0o400, items: [{ key: "secretsKey", path: SECRETS_KEY_FILE }] } }]
                  : []),
              ],
            },
          },
        },
      },
      { ...inNamespace, dependsOn: [namespace, binding] },
    );
    if (replicas >= 2) {
      // A node drain evicts one control plane at a time, so the others keep serving.
      new k8s.policy.v1.PodDisruptionBudget(name, { metadata: meta, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } }, inNamespace);
    }
    const service = new k8s.core.v1.Service(
      name,
      { metadata: meta, spec: { selector: labels, ports: [{ name: "http", port: PORT, targetPort: PORT }] } },
      inNamespace,
    );

    this.namespace = ns;
    this.serviceUrl = serviceUrl;
    this.apiKey = apiKey;
    // Through the Deployment and Service, so resources given this control plane are created after it is up.
    this.url = pulumi
      .all([args.externalUrl, serviceUrl, deployment.metadata.name, service.metadata.name])
      .apply(([external, internal]) => external ?? internal);
    this.registerOutputs({ url: this.url, serviceUrl, namespace: ns });
  }
}
