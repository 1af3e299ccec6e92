/**
 * The SDK's name and version, sent where runpod-python sends its own version: the heartbeat's
 * `runpod_version` and the `runpod_version` field of a handler error. Kept equal to package.json's version
 * (a unit test checks it), so the control plane's Workers view can tell Node workers and their SDK release apart.
 */
export const SDK_VERSION = "0.1.0";
export const SDK_NAME = "berth-node";
export const SDK_VERSION_TAG = `${SDK_NAME}/${SDK_VERSION}`;
