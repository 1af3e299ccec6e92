import axios, { type AxiosInstance } from "axios";
import { caBundleAgent } from "../server/ca-bundle";

/** What a dynamic provider's configure() receives: the stack's config, secrets decrypted. */
export interface StackConfig {
  get(key: string): string | undefined;
}

export interface Connection {
  url: string;
  apiKey: string;
  /** A PEM file of the CAs to trust besides the system's, for a control plane with a private CA's certificate. */
  caBundle?: string;
}

/** Where a CA bundle's path comes from, for errors about it. */
const CA_BUNDLE_SOURCE = "berth:caBundle / BERTH_CA_BUNDLE";

/** The stack's CA bundle (`berth:caBundle`), else BERTH_CA_BUNDLE; it applies to every control plane the stack calls. */
export function caBundleFrom(config: StackConfig | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return config?.get("berth:caBundle") || env.BERTH_CA_BUNDLE || undefined;
}

/**
 * Where the control plane is, per stack: `berth:url` and `berth:apiKey` (set it with --secret) from the stack's
 * config, else BERTH_URL and BERTH_API_KEY from the environment. One program then serves dev, staging and prod.
 * The key is only ever held in memory by the provider: it is in no resource's inputs or outputs, so not in state.
 */
export function connectionFrom(config: StackConfig | undefined, env: NodeJS.ProcessEnv = process.env): Connection {
  const url = config?.get("berth:url") ?? env.BERTH_URL;
  const apiKey = config?.get("berth:apiKey") ?? env.BERTH_API_KEY;
  if (!url) throw new Error("no control plane URL: set the stack config berth:url (pulumi config set berth:url http://...) or BERTH_URL");
  if (!apiKey) throw new Error("no API key: set the stack config berth:apiKey (pulumi config set --secret berth:apiKey ...) or BERTH_API_KEY");
  return { url: url.replace(/\/+$/, ""), apiKey, caBundle: caBundleFrom(config, env) };
}

/** An axios client for the admin API; statuses are left to the caller. */
export function adminClient(connection: Connection): AxiosInstance {
  return axios.create({
    baseURL: `${connection.url}/admin`,
    headers: { Authorization: `Bearer ${connection.apiKey}` },
    validateStatus: () => true,
    timeout: 30_000,
    ...(connection.caBundle && { httpsAgent: caBundleAgent(connection.caBundle, CA_BUNDLE_SOURCE) }),
  });
}
