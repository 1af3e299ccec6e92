/**
 * A create or update that the control plane accepted but that did not finish (an endpoint whose rollout halted or
 * ran out of time). Pulumi's dynamic provider host reads `id`, `properties` and `reasons` off a thrown error
 * (`grpcResponseFromError` in @pulumi/pulumi's cmd/dynamic-provider) and, when `id` is set, reports
 * ErrorResourceInitFailed: the engine records the resource with these properties, as created but failed to
 * initialize, instead of keeping the old state. The next `pulumi up` then sees where things stand.
 */
export class ResourceInitFailedError extends Error {
  readonly reasons: string[];

  constructor(
    readonly id: string,
    readonly properties: Record<string, unknown>,
    reason: string,
  ) {
    super(reason);
    this.name = "ResourceInitFailedError";
    this.reasons = [reason];
  }
}
