/** What Pulumi programs import: `import { Template, Endpoint, NetworkVolume, ApiKey } from "berth"`. */
export {
  ApiKey,
  ControlPlane,
  Endpoint,
  NetworkVolume,
  Template,
  type ApiKeyArgs,
  type ControlPlaneArgs,
  type ControlPlaneConnection,
  type EndpointArgs,
  type NetworkVolumeArgs,
  type TemplateArgs,
} from "./resources";
export {
  quickDeploy,
  QuickDeploy,
  QuickDeployOptionsError,
  type QuickDeployArgs,
  type QuickDeployPreset,
  type VllmOptions,
  type SglangOptions,
  type FasterWhisperOptions,
  type InfinityEmbeddingOptions,
  type ComfyuiOptions,
} from "./quick-deploy";
