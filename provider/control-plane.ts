import crypto from "node:crypto";
import type { dynamic } from "@pulumi/pulumi";
import { z } from "zod";
import { serverConfigSchema } from "../server/config";
import { imageNameSchema } from "../server/resources/schemas";
import { DockerEngine } from "../docker-engine/engine";
import { LABELS } from "../docker-engine/labels";
import { realClock, type Clock } from "./clock";
import { changedKeys, validate } from "./inputs";

/**
 * What the ControlPlane resource takes. The key and the database URL arrive here as plain values; Pulumi keeps them
 * secret in state.
 */
interface ControlPlaneInputs {
  name: string;
  image: string;
  port: number;
  apiKey: string;
  databaseUrl?: string;
  simulatedGpus?: string;
  gpus?: string;
  extraWorkers?: number;
}

const SETTINGS = ["image", "port", "apiKey", "databaseUrl", "simulatedGpus", "gpus", "extraWorkers"];

const controlPlaneSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,40}$/, "must be 1-41 lowercase letters, digits, '.', '_' or '-'"),
  image: imageNameSchema,
  port: z.number().int().min(1).max(65535),
  apiKey: z.string().min(16, "must be at least 16 characters"),
  // The server's own rule, so that preview refuses what the control plane would refuse at start; it never echoes the value.
  databaseUrl: serverConfigSchema.shape.databaseUrl,
  extraWorkers: z.number().int().min(0).max(100).optional(),
});
/** How long a new control plane may take to answer its health check. */
export const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 250;

/** The names a control plane installed as `name` has on the engine; its runtime id labels the workers it starts. */
const namesOf = (name: string) => ({
  container: `berth-control-plane-${name}`,
  dataVolume: `berth-control-plane-${name}-data`,
  controlPlaneId: `pulumi-${name}`,
});

/**
 * Where the container finds its secrets: files in its data volume, mode 0600, which only root in the container (the
 * image's user) and root on the host read. Env values or flags would show to anyone who may `docker inspect`.
 */
const SECRETS_DIR = "secrets";
const secretFile = (name: string) => `/data/${SECRETS_DIR}/${name}`;

/** A new key for secret env values at rest: 32 random bytes in base64, as the server reads it. */
const newSecretsKey = () => crypto.randomBytes(32).toString("base64");

/**
 * Creates (or re-creates, keeping its data volume) the control plane's container and waits until it answers. On
 * PostgreSQL it is given `secretsKey`, kept in Pulumi's state (a secret output) so that every re-creation gets the
 * same one; on SQLite the server makes its own in the data volume.
 */
async function install(inputs: ControlPlaneInputs, secretsKey: string | undefined): Promise<string> {
  const engine = DockerEngine.fromEnv();
  const names = namesOf(inputs.name);
  await engine.createVolume(names.dataVolume, { [LABELS.controlPlaneData]: inputs.name });
  await engine.removeContainer(names.container);
  const flags = [
    ...(inputs.simulatedGpus ? ["--simulated-gpus", inputs.simulatedGpus] : []),
    ...(inputs.gpus ? ["--gpus", inputs.gpus] : []),
    ...(inputs.extraWorkers !== undefined ? ["--extra-workers", String(inputs.extraWorkers)] : []),
  ];
  const id = await engine.createContainer({
    name: names.container,
    image: inputs.image,
    cmd: ["server", "--host", "127.0.0.1", "--port", String(inputs.port), "--data-dir", "/data", ...flags],
    // Only where the secrets are: their values go into files below.
    env: {
      BERTH_API_KEYS_FILE: secretFile("api-key"),
      BERTH_CONTROL_PLANE_ID: names.controlPlaneId,
      ...(inputs.databaseUrl ? { BERTH_DATABASE_URL_FILE: secretFile("database-url"), BERTH_SECRETS_KEY_FILE: secretFile("secrets-key") } : {}),
    },
    labels: { [LABELS.controlPlaneContainer]: inputs.name },
    hostConfig: {
      // The host's network: workers (host network too) reach it on 127.0.0.1, as they would a local `berth server`.
      NetworkMode: "host",
      Init: true,
      RestartPolicy: { Name: "unless-stopped" },
      Mounts: [
        { Type: "volume", Source: names.dataVolume, Target: "/data" },
        // It runs its workers on the engine it runs on.
        { Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock" },
      ],
    },
  });
  // Written on every install, so a changed key replaces the old one; a database URL no longer given is emptied,
  // so that its password does not stay in the volume.
  await engine.writeFiles(id, "/data", [
    { name: SECRETS_DIR, mode: 0o700 },
    { name: `${SECRETS_DIR}/api-key`, content: inputs.apiKey + "\n", mode: 0o600 },
    { name: `${SECRETS_DIR}/database-url`, content: inputs.databaseUrl ?? "", mode: 0o600 },
    ...(secretsKey ? [{ name: `${SECRETS_DIR}/secrets-key`, content: secretsKey + "\n", mode: 0o600 }] : []),
  ]);
  await engine.startContainer(id);
  const url = `http://127.0.0.1:${inputs.port}`;
  await waitUntilAnswering(containerProbe(engine, names.container, url));
  return url;
}

/** What the readiness wait asks of a new control plane: the engine and its health check, in production. */
export interface ControlPlaneProbe {
  container: string;
  url: string;
  /** Whether its health check answers OK now. */
  answers(): Promise<boolean>;
  /** Its container's status ("running", "exited"...), undefined once the container is gone. */
  status(): Promise<string | undefined>;
  /** The last lines it printed, to say why it never answered. */
  lastWords(): Promise<string>;
}

function containerProbe(engine: DockerEngine, container: string, url: string): ControlPlaneProbe {
  return {
    container,
    url,
    async answers() {
      try {
        return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok;
      } catch {
        return false; // not listening yet
      }
    },
    async status() {
      return (await engine.inspectContainer(container))?.State.Status;
    },
    async lastWords() {
      const { stderr, stdout } = await engine.containerLogs(container);
      return (stderr || stdout).trim().split("\n").slice(-5).join("\n");
    },
  };
}

/**
 * Polls until the control plane answers; fails at once when its container exits or goes, and at READY_TIMEOUT_MS,
 * with its last words. The clock is injectable so that the deadline can be tested without waiting it out.
 */
export async function waitUntilAnswering(probe: ControlPlaneProbe, clock: Clock = realClock): Promise<void> {
  const deadline = clock.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (await probe.answers()) return;
    const status = await probe.status();
    if (status === undefined || status === "exited" || clock.now() > deadline) {
      const said = await probe.lastWords();
      throw new Error(`the control plane in container ${probe.container} did not answer at ${probe.url}: ${status ?? "gone"}\n${said}`);
    }
    await clock.sleep(READY_POLL_MS);
  }
}

/**
 * ControlPlane: Berth's own control plane installed on the local Docker engine from the same program (a container
 * of the control-plane image, a volume for its store), so one `pulumi up` makes a whole environment. A settings
 * change re-creates the container on the same data volume: the new one adopts the running workers. Delete removes
 * the container, any worker or volume its runtime left, and the data volume.
 */
export const controlPlaneProvider: dynamic.ResourceProvider = {
  async check(_olds, news) {
    return { inputs: news, failures: validate(controlPlaneSchema.loose(), news) };
  },

  async diff(_id, olds, news) {
    const changed = changedKeys(olds, news, SETTINGS);
    const renamed = olds.name !== news.name;
    return { changes: renamed || changed.length > 0, replaces: renamed ? ["name"] : [], deleteBeforeReplace: true };
  },

  async create(inputs) {
    const secretsKey = inputs.databaseUrl ? newSecretsKey() : undefined;
    const url = await install(inputs as ControlPlaneInputs, secretsKey);
    // Absent rather than undefined without a database: an undefined secret output cannot be serialized.
    return { id: namesOf(inputs.name).container, outs: { ...inputs, url, ...(secretsKey ? { secretsKey } : {}) } };
  },

  async read(id, props) {
    const container = await DockerEngine.fromEnv().inspectContainer(id);
    return container ? { id, props } : { id: "", props: {} };
  },

  async update(_id, olds, news) {
    // The key the database's secrets were encrypted with: a new one would not open them.
    const secretsKey = news.databaseUrl ? ((olds.secretsKey as string | undefined) ?? newSecretsKey()) : undefined;
    const url = await install(news as ControlPlaneInputs, secretsKey);
    return { outs: { ...news, url, ...(secretsKey ? { secretsKey } : {}) } };
  },

  async delete(id, props) {
    const engine = DockerEngine.fromEnv();
    const names = namesOf(props.name);
    await engine.removeContainer(id);
    const owned = { [LABELS.controlPlane]: names.controlPlaneId };
    for (const worker of await engine.listContainers(owned)) await engine.removeContainer(worker.Id);
    for (const volume of await engine.listVolumes(owned)) await engine.removeVolume(volume);
    await engine.removeVolume(names.dataVolume);
  },
};
