/** Reads a variable the test bed sets; a test that needs it fails loudly rather than skipping without it. */
export function testbedEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests through scripts/test.sh, which brings up the test bed`);
  }
  return value;
}
