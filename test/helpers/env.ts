/** Reads a variable the test bed sets; a test that needs it fails loudly rather than skipping without it. */
export function testbedEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests through scripts/test.sh, which brings up the test bed`);
  }
  return value;
}

/**
 * An image reference no registry has, on the test bed's local registry: a pull of it fails there, on loopback,
 * instead of going out to docker.io (which the egress guard would refuse and count against the run).
 */
export function missingImage(tag: string): string {
  return `${testbedEnv("BERTH_REGISTRY")}/berth/does-not-exist:${tag}`;
}
