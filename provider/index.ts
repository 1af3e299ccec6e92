/**
 * The dynamic providers behind Berth's Pulumi resources. The resource classes (sdk/resources.ts) register thin
 * provider objects that `require` this module by its absolute path at call time: only that path is serialized
 * into the stack's state, so the zod schemas and axios here never go through Pulumi's closure serializer, and
 * editing this code changes no resource (the serialized text stays the same).
 */
export { configure } from "./admin-api";
export { controlPlaneProvider as controlPlane } from "./control-plane";
export { endpointProvider as endpoint } from "./endpoint";
export { networkVolumeProvider as networkVolume } from "./network-volume";
export { templateProvider as template } from "./template";
