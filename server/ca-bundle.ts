import fs from "node:fs";
import https from "node:https";
import tls from "node:tls";

/**
 * An https.Agent that trusts the certificates in a PEM file besides the system's, for clients of a control plane
 * whose certificate comes from a private CA. `source` names where the path came from (a flag, a variable, a stack
 * config key), so a bad path is an error its user can act on.
 */
export function caBundleAgent(file: string, source: string): https.Agent {
  let pem: string;
  try {
    pem = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`${source}: cannot read the CA bundle ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`${source}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  // Node's `ca` replaces the system roots: both are kept, so a public certificate still verifies with a bundle given.
  return new https.Agent({ ca: [...tls.rootCertificates, pem] });
}

/** OpenSSL's verdicts on a certificate the client does not trust (Node gives them as the error's code). */
const UNTRUSTED = new Set([
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
]);

/**
 * A failed call's message, with what to do when the failure is a certificate this client does not trust:
 * `trustWith` names the setting that gives it the CA (a flag, a stack config key).
 */
export function describeCallError(err: unknown, trustWith: string): string {
  const message = (err as Error).message;
  const code = (err as { code?: string }).code;
  if (code && UNTRUSTED.has(code)) return `${message}: the control plane's certificate is not trusted here; give its CA with ${trustWith}`;
  return message;
}
