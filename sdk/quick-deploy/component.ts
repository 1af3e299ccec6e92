import * as pulumi from "@pulumi/pulumi";
import { Endpoint, NetworkVolume, Template, type ControlPlaneConnection } from "../resources";
import type { QuickDeployPreset } from "./preset";

export interface QuickDeployArgs {
  /** What to deploy: `quickDeploy.vllm({...})`, `quickDeploy.infinityEmbedding({...})`... */
  preset: QuickDeployPreset;
  /** A ControlPlane of this program; absent: the stack's berth:url and berth:apiKey. */
  controlPlane?: ControlPlaneConnection;
}

/**
 * A quick deploy: the preset's Template, its model cache NetworkVolume (when it has one) and its Endpoint, as one
 * component whose children are named after it. Exposes what clients need: the endpoint's id, the RunPod client
 * base URL and, for workers that speak it, OpenAI's base URL.
 */
export class QuickDeploy extends pulumi.ComponentResource {
  readonly template: Template;
  readonly endpoint: Endpoint;
  /** The model cache; undefined when the preset has none. */
  readonly modelCache?: NetworkVolume;
  readonly endpointId: pulumi.Output<string>;
  /** RunPod clients' base URL: POST {clientBaseUrl}/{endpointId}/runsync. */
  readonly clientBaseUrl: pulumi.Output<string>;
  /** OpenAI clients' base URL, `{clientBaseUrl}/{endpointId}/openai/v1`; undefined for workers without OpenAI's API. */
  readonly openAiBaseUrl?: pulumi.Output<string>;

  constructor(name: string, args: QuickDeployArgs, opts?: pulumi.ComponentResourceOptions) {
    super("berth:index:QuickDeploy", name, {}, opts);
    const { preset, controlPlane } = args;
    const child = { parent: this };
    this.template = new Template(name, { ...preset.template, controlPlane }, child);
    this.modelCache =
      preset.modelCacheGb === undefined ? undefined : new NetworkVolume(`${name}-models`, { size: preset.modelCacheGb, controlPlane }, child);
    this.endpoint = new Endpoint(name, { ...preset.endpoint, template: this.template, networkVolume: this.modelCache, controlPlane }, child);
    this.endpointId = this.endpoint.id;
    this.clientBaseUrl = this.endpoint.clientBaseUrl;
    this.openAiBaseUrl = preset.openAi ? pulumi.interpolate`${this.clientBaseUrl}/${this.endpointId}/openai/v1` : undefined;
    this.registerOutputs({ endpointId: this.endpointId, clientBaseUrl: this.clientBaseUrl, openAiBaseUrl: this.openAiBaseUrl });
  }
}
