// The README's "Your cluster", step by step, as a new user follows it in empty directories outside this checkout,
// against the test bed's cluster: `berth doctor --runtime kubernetes`, the control-plane image built and pushed
// where the nodes pull from, `pulumi new` from the installed kubernetes template, the worker image pushed,
// `pulumi up` (which stops at the template while nothing answers at controlPlaneUrl), `kubectl port-forward`,
// `pulumi up` again, a job served by a worker pod, `pulumi destroy`. The control plane and the worker run as real
// containers on the test bed's real node (testbed/kubelet.sh); the worker reaches the control plane by its
// Service's DNS name. What differs from the README is what this offline machine needs: npm offline, the images
// FROM the test bed's local bases and pushed to its registry, and the config a cluster like this one needs (no
// default StorageClass, only tainted GPU nodes), set as the README tells such a cluster's user to.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { npm, npmEnv, outsideDir, packBerth, pulumiHomeWithPlugins } from "../helpers/berth-package";
import { testbedEnv } from "../helpers/env";
import { testKubeConfig } from "../helpers/kube-runtime";
import { freePort } from "../helpers/load-balancer";
import { ReadmeSession } from "../helpers/readme-session";

const PROJECT = "gpu-cluster";
/** The control plane's Service port (sdk/kubernetes.ts). */
const SERVICE_PORT = 8910;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** `kubectl port-forward`, as the README runs it in another terminal: resolves once it says it is forwarding. */
function portForward(env: NodeJS.ProcessEnv, namespace: string, port: number): Promise<ChildProcess> {
  const child = spawn("kubectl", ["-n", namespace, "port-forward", `svc/berth-control-plane`, `${port}:${SERVICE_PORT}`], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Forwarding from 127\.0\.0\.1:/.test(output)) resolve(child);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.once("exit", (code) => reject(new Error(`kubectl port-forward exited with ${code}:\n${output}`)));
  });
}

test("your cluster: from an empty directory to a job served by a worker pod, with the installed package alone", async (t) => {
  const home = outsideDir("first-hour-cluster");
  const globalPrefix = path.join(home, "global");
  const kubeconfig = testbedEnv("BERTH_KUBECONFIG");
  const session = new ReadmeSession(
    npmEnv({
      npm_config_prefix: globalPrefix,
      PATH: `${path.join(globalPrefix, "bin")}${path.delimiter}${process.env.PATH}`,
      PULUMI_HOME: pulumiHomeWithPlugins(path.join(home, ".pulumi")),
      PULUMI_CONFIG_PASSPHRASE: "first-hour-cluster-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      // The current kubectl context is the test bed's cluster.
      KUBECONFIG: kubeconfig,
      DOCKER_BUILDKIT: "0",
    }),
  );
  const tarball = await packBerth();
  await session.step("npm install -g <tarball>", () => session.mustRun(home, "npm", ["install", "-g", tarball]));

  const doctor = await session.step("berth doctor --runtime kubernetes", () =>
    session.run(home, "berth", ["doctor", "--runtime", "kubernetes", "--kubeconfig", kubeconfig]),
  );
  assert.equal(doctor.code, 0, `berth doctor failed on a cluster that can run Berth:\n${doctor.stdout}${doctor.stderr}`);
  assert.match(doctor.stdout, /nvidia\.com\/gpu/);

  // The registry the real node pulls from stands in for registry.example.com.
  const registry = testbedEnv("BERTH_REGISTRY");
  const suffix = crypto.randomBytes(3).toString("hex");
  const controlPlaneImage = `${registry}/berth/control-plane:first-hour-${suffix}`;
  await session.step("berth image build --tag; docker push", async () => {
    await session.mustRun(home, "berth", ["image", "build", "--tag", controlPlaneImage, "--base", testbedEnv("BERTH_NODE_IMAGE")]);
    await session.mustRun(home, "docker", ["push", "-q", controlPlaneImage]);
  });
  cleanups.push(() => session.run(home, "docker", ["image", "rm", controlPlaneImage]));

  const project = path.join(home, PROJECT);
  fs.mkdirSync(project);
  await session.mustRun(project, "pulumi", ["login", `file://${home}`]);
  const templates = path.join((await session.mustRun(project, "npm", ["root", "-g"])).trim(), "berth/templates");
  await session.step("pulumi new <installed template>", () =>
    session.mustRun(project, "pulumi", ["new", path.join(templates, "kubernetes"), "--stack", "dev", "--yes", "--non-interactive"]),
  );
  const apiKey = crypto.randomBytes(24).toString("hex");
  await session.mustRun(project, "pulumi", ["config", "set", "--secret", "apiKey", apiKey]);
  await session.step("npm install <tarball> (the project)", () => npm(project, ["install", tarball], session.env));

  const workerImage = `${registry}/${PROJECT}-worker:${suffix}`;
  await session.step("docker build worker/; docker push", async () => {
    await session.mustRun(project, "docker", ["build", "-q", "--build-arg", `BASE_IMAGE=${testbedEnv("BERTH_RUNPOD_PYTHON_IMAGE")}`, "-t", workerImage, "worker/"]);
    await session.mustRun(project, "docker", ["push", "-q", workerImage]);
  });
  cleanups.push(() => session.run(home, "docker", ["image", "rm", workerImage]));

  const namespace = `berth-first-hour-${suffix}`;
  const port = await freePort();
  const config = [
    ["controlPlaneImage", controlPlaneImage],
    ["workerImage", workerImage],
    ["namespace", namespace],
    ["controlPlaneUrl", `http://127.0.0.1:${port}`],
    // The real node's GPU (NVIDIA L4): kwok's nodes run nothing.
    ["gpuTypeIds", "AMPERE_24"],
  ];
  for (const [key, value] of config) await session.mustRun(project, "pulumi", ["config", "set", key!, value!]);
  // This cluster has no default StorageClass, and its one real node is a GPU node with the GPU taint.
  const clusterFit = [
    ['controlPlane.nodeSelector["berth.dev/node"]', "real"],
    ["controlPlane.tolerations[0].key", "nvidia.com/gpu"],
    ["controlPlane.tolerations[0].operator", "Exists"],
    ["controlPlane.tolerations[0].effect", "NoSchedule"],
    ["controlPlane.storageClass", "berth-local"],
    ["controlPlane.storageAccessMode", "ReadWriteMany"],
  ];
  for (const [key, value] of clusterFit) await session.mustRun(project, "pulumi", ["config", "set", "--path", key!, value!]);

  const preview = await session.step("pulumi preview --diff", () => session.mustRun(project, "pulumi", ["preview", "--diff"]));
  assert.match(preview, /berth:index:KubernetesControlPlane: \(create\)/);
  assert.match(preview, /nodeSelector\s*: \{\s*berth\.dev\/node: "real"/, "the config's nodeSelector reaches the control plane's pods");
  assert.match(preview, /storageClassName: "berth-local"/, "and its storage class the claim");
  const core = testKubeConfig().makeApiClient(CoreV1Api);
  // Cleanups run last first: destroy, then the namespace itself, should destroy have stopped at a resource it
  // could not reach (the template, without the port-forward).
  cleanups.push(() => core.deleteNamespace({ name: namespace }));
  cleanups.push(() => session.run(project, "pulumi", ["destroy", "--yes", "--non-interactive"]));

  // The README: the first `pulumi up` installs the control plane, then stops at the template while nothing answers.
  const first = await session.step("pulumi up (stops at the template)", () => session.run(project, "pulumi", ["up", "--yes", "--non-interactive"]));
  assert.notEqual(first.code, 0, "nothing answers at controlPlaneUrl yet");
  assert.match(first.stdout + first.stderr, new RegExp(`Berth control plane at http://127\\.0\\.0\\.1:${port} did not answer`));
  const pods = await core.listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/name=berth-control-plane" });
  assert.deepEqual(
    pods.items.map((pod) => pod.spec?.nodeName),
    [testbedEnv("BERTH_REAL_NODE")],
    "the control plane runs on the node its config selects",
  );

  const forward = await session.step("kubectl port-forward", () => portForward(session.env, namespace, port));
  cleanups.push(async () => forward.kill());
  await session.step("pulumi up (again)", () => session.mustRun(project, "pulumi", ["up", "--yes", "--non-interactive"]));

  const output = async (name: string) => (await session.mustRun(project, "pulumi", ["stack", "output", name])).trim();
  const [controlPlaneUrl, endpointId, clientBaseUrl] = [await output("controlPlaneUrl"), await output("endpointId"), await output("clientBaseUrl")];
  assert.equal(clientBaseUrl, `http://berth-control-plane.${namespace}.svc.cluster.local:${SERVICE_PORT}/v2`);

  const job = await session.step("first job (runsync, worker pod cold start)", async () => {
    const res = await fetch(`${controlPlaneUrl}/v2/${endpointId}/runsync?wait=240000`, {
      method: "POST",
      headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ input: { name: "Ada" } }),
      signal: AbortSignal.timeout(300_000),
    });
    return (await res.json()) as { status: string; output?: unknown };
  });
  assert.equal(job.status, "COMPLETED", JSON.stringify(job));
  assert.deepEqual(job.output, { greeting: "Hello, Ada!" });
  const workers = await session.mustRun(project, "berth", ["workers", endpointId], { BERTH_URL: controlPlaneUrl, BERTH_API_KEY: apiKey });
  const workerPod = /^(berth-\S+)\s+Idle\s/m.exec(workers)?.[1];
  assert.ok(workerPod, `berth workers lists the worker that served the job, Idle:\n${workers}`);
  const pod = await core.readNamespacedPod({ namespace, name: workerPod });
  assert.equal(pod.spec?.nodeName, testbedEnv("BERTH_REAL_NODE"), "the worker runs on the real node, the one with AMPERE_24's GPU");
  assert.equal(pod.spec?.containers[0]?.resources?.limits?.["nvidia.com/gpu"], "1", "and holds one of its GPUs");

  await session.step("pulumi destroy", () => session.mustRun(project, "pulumi", ["destroy", "--yes", "--non-interactive"]));
  const left = await core.readNamespace({ name: namespace }).then(
    (ns) => ns.status?.phase,
    () => "gone",
  );
  assert.ok(left === "gone" || left === "Terminating", `the namespace is ${left} after pulumi destroy`);

  for (const line of session.table("your cluster, step by step:")) t.diagnostic(line);
});
