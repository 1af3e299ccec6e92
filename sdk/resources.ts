import crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { stableJson } from "../provider/inputs";

/**
 * The compiled provider module (provider/index.ts), resolved when the program loads. Each resource's provider is
 * a thin module that requires it by this absolute path at call time, so the stack's state holds only the path:
 * not the zod schemas, axios or the API key, and an edit to the provider's code changes no resource.
 */
const PROVIDER_MODULE = require.resolve("../provider");

type ProviderKind = "template" | "endpoint" | "networkVolume" | "controlPlane" | "apiKey";

/**
 * The code Pulumi's dynamic provider host runs for one kind of resource, as the `__provider` property it reads:
 * a module whose `handler()` answers the provider (the host's contract: `requireFromString(text).handler()`).
 * Written here rather than made by `pulumi.dynamic.Resource`, whose closure serializer starts a V8 inspector
 * session in the program and walks every script loaded: about a second before a program's first resource on a
 * 2-core machine, and as many times 10 ms more as resources when each has its own provider object.
 */
function providerModule(kind: ProviderKind): string {
  return [
    `const modulePath = ${JSON.stringify(PROVIDER_MODULE)};`,
    `const real = () => require(modulePath)[${JSON.stringify(kind)}];`,
    "exports.handler = () => ({",
    "  configure: async (req) => require(modulePath).configure(req.config),",
    "  check: (olds, news) => real().check(olds, news),",
    "  diff: (id, olds, news) => real().diff(id, olds, news),",
    "  create: (inputs) => real().create(inputs),",
    "  read: (id, props) => real().read(id, props),",
    "  update: (id, olds, news) => real().update(id, olds, news),",
    "  delete: (id, props) => real().delete(id, props),",
    "});",
  ].join("\n");
}

/**
 * A Berth resource's type token and inputs as Pulumi's dynamic resources have them (the same provider host serves
 * them), with the provider above. Each class extends CustomResource itself, not a shared base: Pulumi records the
 * program line that made a resource from a fixed depth of the constructor's stack.
 */
const dynamicType = (type: string) => `pulumi-nodejs:dynamic/berth:${type}`;
const withProvider = (kind: ProviderKind, inputs: pulumi.Inputs): pulumi.Inputs => ({ ...inputs, __provider: providerModule(kind) });

/** The keys of `env` whose values are Pulumi secrets: the control plane then never shows or logs those values. */
function secretKeysOf(env: Record<string, pulumi.Input<string>>): pulumi.Output<string[]> {
  const flags = Object.entries(env).map(async ([key, value]) => (pulumi.Output.isInstance(value) && (await pulumi.isSecret(value as pulumi.Output<string>)) ? key : undefined));
  return pulumi.output(Promise.all(flags).then((keys) => keys.filter((key): key is string => key !== undefined)));
}

export interface ControlPlaneArgs {
  /** The control-plane image (`berth image build` builds one), e.g. `berth/control-plane:0.1.0`. */
  image: pulumi.Input<string>;
  /** Its API key; give it as a secret (`config.requireSecret`). At least 16 characters. */
  apiKey: pulumi.Input<string>;
  /**
   * PostgreSQL 15 or newer to keep its store in, `postgres://` or `postgresql://` (production); give it as a secret
   * (`config.requireSecret`). Absent: SQLite in its data volume. Changing it re-creates the container.
   */
  databaseUrl?: pulumi.Input<string>;
  /** The port it listens on, on 127.0.0.1 of the Docker host; default 8910. */
  port?: pulumi.Input<number>;
  /** A simulated GPU inventory for a host without GPUs, e.g. `NVIDIA GeForce RTX 4090=2` (shown as simulated). */
  simulatedGpus?: pulumi.Input<string>;
  /** The host's GPUs when nvidia-smi cannot list them: `<device id>=<type>[;...]`. */
  gpus?: pulumi.Input<string>;
  /** Frozen standby workers per endpoint; default 2. */
  extraWorkers?: pulumi.Input<number>;
}

/**
 * Berth's control plane itself, installed on the local Docker engine (a container plus a volume for its store):
 * with it, a whole environment is one `pulumi up`. Give it to the other resources as `controlPlane`.
 */
export class ControlPlane extends pulumi.CustomResource {
  /** Where its APIs answer, e.g. http://127.0.0.1:8910. */
  declare readonly url: pulumi.Output<string>;
  declare readonly apiKey: pulumi.Output<string>;

  constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = {
      ...args,
      name,
      port: args.port ?? 8910,
      apiKey: pulumi.secret(args.apiKey),
      databaseUrl: args.databaseUrl === undefined ? undefined : pulumi.secret(args.databaseUrl),
      url: undefined,
      secretsKey: undefined,
    };
    // The key of secret env values on PostgreSQL is made by the provider, a new output: secret only when asked for.
    const secretOutputs = { additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "secretsKey"] };
    super(dynamicType("ControlPlane"), name, withProvider("controlPlane", inputs), { ...opts, ...secretOutputs });
  }
}

/**
 * A control plane of this program: the Docker `ControlPlane`, or a `KubernetesControlPlane` (from
 * "berth/kubernetes"). Resources given one are created after it and reach it at `url` with `apiKey`.
 */
export interface ControlPlaneConnection {
  url: pulumi.Output<string>;
  apiKey: pulumi.Output<string>;
}

/** A resource's inputs naming the control plane of this program it lives on, if any (else the stack's). */
function connectionInputs(controlPlane: ControlPlaneConnection | undefined) {
  return controlPlane ? { controlPlaneUrl: controlPlane.url, controlPlaneApiKey: pulumi.secret(controlPlane.apiKey) } : {};
}

/** Where a resource lives: a ControlPlane of this program, or (absent) the stack's berth:url and berth:apiKey. */
interface OnControlPlane {
  controlPlane?: ControlPlaneConnection;
}

export interface TemplateArgs extends OnControlPlane {
  /** Display name; default the resource's name. */
  name?: pulumi.Input<string>;
  /** The worker image, e.g. `runpod/worker-v1-vllm:v2.7.0`; a malformed reference fails at preview. */
  imageName: pulumi.Input<string>;
  /** Replaces the image's command; default the image's own. */
  startCommand?: pulumi.Input<pulumi.Input<string>[]>;
  /** Worker environment. Values given as secrets (`pulumi.secret`, `config.requireSecret`) stay secret everywhere. */
  env?: Record<string, pulumi.Input<string>>;
  /** GB of container disk per worker; default 50 (RunPod's). */
  containerDiskInGb?: pulumi.Input<number>;
  /** Where the endpoint's network volume is mounted; default `/runpod-volume`. */
  volumeMountPath?: pulumi.Input<string>;
  /** Ports workers expose, e.g. `8888/http`; serverless workers need none. */
  ports?: pulumi.Input<pulumi.Input<string>[]>;
  /** Memory limit per worker in GB; default none. */
  memoryInGb?: pulumi.Input<number>;
  readme?: pulumi.Input<string>;
}

/** What an endpoint's workers run: image, command, env, disk, memory. Updated in place; endpoints using it roll. */
export class Template extends pulumi.CustomResource {
  declare readonly name: pulumi.Output<string>;
  declare readonly imageName: pulumi.Output<string>;
  /** A digest of what the workers run (not the name or readme): an Endpoint's input, so it rolls when this changes. */
  readonly rolloutKey: pulumi.Output<string>;

  constructor(name: string, args: TemplateArgs, opts?: pulumi.CustomResourceOptions) {
    const { controlPlane, ...spec } = args;
    const env = spec.env ?? {};
    const inputs = { ...spec, name: spec.name ?? name, env, secretEnvKeys: secretKeysOf(env), ...connectionInputs(controlPlane) };
    super(dynamicType("Template"), name, withProvider("template", inputs), opts);
    const { name: _name, readme: _readme, ...runs } = spec;
    this.rolloutKey = pulumi
      .output({ ...runs, env })
      .apply((spec) => crypto.createHash("sha256").update(stableJson(spec)).digest("hex").slice(0, 16));
  }
}

export interface NetworkVolumeArgs extends OnControlPlane {
  name?: pulumi.Input<string>;
  /** GB; may only grow (a smaller size fails at preview). */
  size: pulumi.Input<number>;
  /** The data centre; default `local` (one Docker host). Changing it replaces the volume. */
  dataCenterId?: pulumi.Input<string>;
}

/** Storage shared by an endpoint's workers, mounted at the template's volumeMountPath. */
export class NetworkVolume extends pulumi.CustomResource {
  declare readonly name: pulumi.Output<string>;
  declare readonly size: pulumi.Output<number>;
  declare readonly dataCenterId: pulumi.Output<string>;

  constructor(name: string, args: NetworkVolumeArgs, opts?: pulumi.CustomResourceOptions) {
    const { controlPlane, ...spec } = args;
    const inputs = { ...spec, name: spec.name ?? name, dataCenterId: spec.dataCenterId ?? "local", ...connectionInputs(controlPlane) };
    super(dynamicType("NetworkVolume"), name, withProvider("networkVolume", inputs), opts);
  }
}

export interface EndpointArgs extends OnControlPlane {
  name?: pulumi.Input<string>;
  /**
   * The template its workers run: a Template of this program (a change to it rolls this endpoint's workers, in
   * the same update; the endpoint is never replaced), or the id of a template that exists already.
   */
  template: Template | pulumi.Input<string>;
  /** GPU types in priority order: RunPod type ids or pools (ADA_24, AMPERE_80...); `-X` excludes. Default any. */
  gpuTypeIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** GPUs per worker; default 1. */
  gpuCount?: pulumi.Input<number>;
  /** Active workers, always on; default 0. */
  workersMin?: pulumi.Input<number>;
  /** The most workers at once; default 3. */
  workersMax?: pulumi.Input<number>;
  /** Seconds an idle flex worker stays; default 5 (1..3600). */
  idleTimeout?: pulumi.Input<number>;
  /** QUEUE_DELAY (default) or REQUEST_COUNT. */
  scalerType?: pulumi.Input<"QUEUE_DELAY" | "REQUEST_COUNT">;
  /** Seconds of queue delay, or requests per worker; default 4 (1..1000). */
  scalerValue?: pulumi.Input<number>;
  /** Per-job limit unless a job's policy says otherwise; default 600000 ms. */
  executionTimeoutMs?: pulumi.Input<number>;
  flashboot?: pulumi.Input<boolean>;
  networkVolume?: NetworkVolume;
  dataCenterIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** Added to the template's env for this endpoint's workers; secrets stay secret. */
  env?: Record<string, pulumi.Input<string>>;
  /**
   * The client API's rate limits per API key, by group (run, sync, cancel, purgeQueue): `requestsPer10s` and
   * `concurrent`; absent: RunPod's defaults (server/README.md "Rate limits").
   */
  rateLimits?: pulumi.Input<Record<string, { requestsPer10s?: number; concurrent?: number }>>;
  /** How long `pulumi up` waits for a rolling update to finish; default 1800 s. */
  rolloutTimeoutSeconds?: pulumi.Input<number>;
}

/** A queue and its autoscaled workers; its clients call `{clientBaseUrl}/{id}/run` with RunPod's API. */
export class Endpoint extends pulumi.CustomResource {
  declare readonly name: pulumi.Output<string>;
  /** Increments when what the workers run changes (never on its own, so it causes no drift). */
  declare readonly revision: pulumi.Output<number>;
  /** The base URL RunPod clients take (RUNPOD_ENDPOINT_BASE_URL). */
  declare readonly clientBaseUrl: pulumi.Output<string>;

  constructor(name: string, args: EndpointArgs, opts?: pulumi.CustomResourceOptions) {
    const { template, networkVolume, controlPlane, ...rest } = args;
    const env = args.env ?? {};
    const inputs = {
      ...rest,
      name: args.name ?? name,
      templateId: template instanceof Template ? template.id : template,
      templateRolloutKey: template instanceof Template ? template.rolloutKey : undefined,
      networkVolumeId: networkVolume?.id,
      env,
      secretEnvKeys: secretKeysOf(env),
      revision: undefined,
      clientBaseUrl: undefined,
      ...connectionInputs(controlPlane),
    };
    super(dynamicType("Endpoint"), name, withProvider("endpoint", inputs), opts);
  }
}

export interface ApiKeyArgs extends OnControlPlane {
  /** Who or what holds it ("ci", "web app", "dashboard"); default the resource's name. */
  name?: pulumi.Input<string>;
  /** admin: everything; read: the admin and monitoring reads and /metrics; run: the client API of `endpoints` only. */
  scope: pulumi.Input<"admin" | "read" | "run">;
  /** The endpoints a run key may call: Endpoints of this program, or ids. Required for run, refused otherwise. */
  endpoints?: Array<Endpoint | pulumi.Input<string>>;
  /** ISO 8601; absent: the key never expires. */
  expiresAt?: pulumi.Input<string>;
}

/**
 * An API key of the control plane. `key` is a Pulumi secret, kept only in the stack's (encrypted) state: the control
 * plane keeps its hash. Any change of the arguments makes a new key, then revokes the old one.
 */
export class ApiKey extends pulumi.CustomResource {
  declare readonly keyId: pulumi.Output<string>;
  /** The key itself, for `Authorization: Bearer`: secret. */
  declare readonly key: pulumi.Output<string>;

  constructor(name: string, args: ApiKeyArgs, opts?: pulumi.CustomResourceOptions) {
    const { controlPlane, endpoints, ...rest } = args;
    const inputs = {
      ...rest,
      name: args.name ?? name,
      endpointIds: endpoints?.map((endpoint) => (endpoint instanceof Endpoint ? endpoint.id : endpoint)),
      keyId: undefined,
      key: undefined,
      ...connectionInputs(controlPlane),
    };
    super(dynamicType("ApiKey"), name, withProvider("apiKey", inputs), { ...opts, additionalSecretOutputs: ["key"] });
  }
}
