import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** The port the control plane listens on in its pod, and its Service's. */
const PORT = 8910;
const NAME = "berth-control-plane";

export interface KubernetesControlPlaneArgs {
  /** The namespace it is installed in and runs its workers in; created (and deleted) with it. */
  namespace: pulumi.Input<string>;
  /** The control-plane image (scripts/build-control-plane-image.sh builds one), pushed where the cluster pulls from. */
  image: pulumi.Input<string>;
  /** Its API key; give it as a secret (`config.requireSecret`). Kept in a Kubernetes Secret. */
  apiKey: pulumi.Input<string>;
  /**
   * Where Pulumi and clients reach its APIs from outside the cluster (an Ingress, a LoadBalancer, a port-forward).
   * Default: the in-cluster Service URL, for programs that run inside the cluster.
   */
  externalUrl?: pulumi.Input<string>;
  /** Storage class of the claim holding its SQLite store; default the cluster's. */
  storageClass?: pulumi.Input<string>;
  /** Size of that claim; default 10Gi. */
  storageSize?: pulumi.Input<string>;
  /** Access mode of that claim; default ReadWriteOnce (one pod writes the store: the Deployment is Recreate). */
  storageAccessMode?: pulumi.Input<string>;
  /** Storage class of network volumes' claims (ReadWriteMany, expandable); default the cluster's. */
  workerStorageClass?: pulumi.Input<string>;
  logLevel?: pulumi.Input<string>;
}

/**
 * Berth's control plane installed in a Kubernetes cluster with @pulumi/kubernetes: its namespace, a service
 * account whose Role reaches only that namespace, its API key as a Secret, a claim for its store, a one-replica
 * Deployment (Recreate: the SQLite store has one writer) and a Service. It runs `--runtime kubernetes`, so the
 * endpoints created through it run as Deployments beside it. Give it to Templates, NetworkVolumes and Endpoints
 * as `controlPlane`, like the Docker `ControlPlane`.
 */
export class KubernetesControlPlane extends pulumi.ComponentResource {
  /** Where the other resources (and clients) reach its APIs: `externalUrl`, else `serviceUrl`. */
  readonly url: pulumi.Output<string>;
  /** The in-cluster address workers use: http://berth-control-plane.<namespace>.svc.cluster.local:8910. */
  readonly serviceUrl: pulumi.Output<string>;
  readonly apiKey: pulumi.Output<string>;
  readonly namespace: pulumi.Output<string>;

  constructor(name: string, args: KubernetesControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
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
          { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "create", "delete"] },
          { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["get", "list", "create", "patch", "delete"] },
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
    const keySecret = new k8s.core.v1.Secret(name, { metadata: meta, stringData: { apiKey } }, inNamespace);
    const store = new k8s.core.v1.PersistentVolumeClaim(
      name,
      {
        metadata: { ...meta, name: `${NAME}-data` },
        spec: {
          accessModes: [args.storageAccessMode ?? "ReadWriteOnce"],
          storageClassName: args.storageClass,
          resources: { requests: { storage: args.storageSize ?? "10Gi" } },
        },
      },
      inNamespace,
    );
    const serviceUrl = pulumi.interpolate`http://${NAME}.${ns}.svc.cluster.local:${PORT}`;
    const env = [
      { name: "BERTH_RUNTIME", value: "kubernetes" },
      { name: "BERTH_KUBE_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "BERTH_CONTROL_PLANE_ID", value: ns },
      { name: "BERTH_PUBLIC_URL", value: serviceUrl },
      { name: "BERTH_API_KEYS", valueFrom: { secretKeyRef: { name: keySecret.metadata.name, key: "apiKey" } } },
      ...(args.workerStorageClass ? [{ name: "BERTH_KUBE_STORAGE_CLASS", value: args.workerStorageClass }] : []),
      ...(args.logLevel ? [{ name: "BERTH_LOG_LEVEL", value: args.logLevel }] : []),
    ];
    const deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: meta,
        spec: {
          replicas: 1,
          strategy: { type: "Recreate" },
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: account.metadata.name,
              containers: [
                {
                  name: "control-plane",
                  image: args.image,
                  args: ["server", "--host", "0.0.0.0", "--port", String(PORT), "--data-dir", "/data"],
                  env,
                  ports: [{ name: "http", containerPort: PORT }],
                  readinessProbe: { httpGet: { path: "/healthz", port: PORT } },
                  volumeMounts: [{ name: "data", mountPath: "/data" }],
                },
              ],
              volumes: [{ name: "data", persistentVolumeClaim: { claimName: store.metadata.name } }],
            },
          },
        },
      },
      { ...inNamespace, dependsOn: [namespace, binding] },
    );
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
