/**
 * The dynamic providers behind Berth's Pulumi resources. The resource classes (sdk/resources.ts) give the dynamic
 * provider host a few lines of code of their own that `require` this module by its absolute path at call time:
 * only that path is in the stack's state, nothing here goes through Pulumi's closure serializer, and editing this
 * code changes no resource (the provider text stays the same).
 */
export { configure } from "./admin-api";
export { apiKeyProvider as apiKey } from "./api-key";
export { controlPlaneProvider as controlPlane } from "./control-plane";
export { endpointProvider as endpoint } from "./endpoint";
export { networkVolumeProvider as networkVolume } from "./network-volume";
export { templateProvider as template } from "./template";
