/** What Pulumi programs import: `import { Template, Endpoint, NetworkVolume } from "berth"`. */
export { Endpoint, NetworkVolume, Template, type EndpointArgs, type NetworkVolumeArgs, type TemplateArgs } from "./resources";
