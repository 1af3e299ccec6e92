/** What Pulumi programs import: `import { Template, Endpoint, NetworkVolume } from "berth"`. */
export {
  ControlPlane,
  Endpoint,
  NetworkVolume,
  Template,
  type ControlPlaneArgs,
  type ControlPlaneConnection,
  type EndpointArgs,
  type NetworkVolumeArgs,
  type TemplateArgs,
} from "./resources";
