import crypto from "node:crypto";
import path from "node:path";
import { readOrCreateFile } from "./data-dir";
import type { Settings } from "./store/settings";

/**
 * Secrets of a control plane, made on first start:
 * - `secret`: the key that worker keys are derived from, kept with its store (the data directory, or the
 *   PostgreSQL database its replicas share);
 * - `api-key`: the client/admin API key, made only when none is configured, in the data directory (mode 0600)
 *   for its operator to read.
 */
export class Keys {
  /** Derived worker keys by endpoint id: every worker call checks one, and an HMAC per call is measurable. */
  private readonly workerKeys = new Map<string, string>();

  private constructor(
    private readonly secret: Buffer,
    readonly apiKeys: readonly string[],
  ) {}

  static async load(
    settings: Settings,
    dataDir: string,
    configuredApiKeys: readonly string[],
  ): Promise<{ keys: Keys; generatedApiKeyFile?: string }> {
    const secret = Buffer.from(await settings.readOrCreate("secret", () => randomToken(32)), "base64url");
    if (configuredApiKeys.length > 0) return { keys: new Keys(secret, configuredApiKeys) };
    const file = path.join(dataDir, "api-key");
    const apiKey = readOrCreateFile(file, () => "berth_" + randomToken(24));
    return { keys: new Keys(secret, [apiKey]), generatedApiKeyFile: file };
  }

  /** A worker key works for one endpoint's worker API only; it is derived, so nothing per endpoint is stored. */
  workerKey(endpointId: string): string {
    let key = this.workerKeys.get(endpointId);
    if (key === undefined) {
      key = "bw_" + crypto.createHmac("sha256", this.secret).update(`worker:${endpointId}`).digest("base64url");
      this.workerKeys.set(endpointId, key);
    }
    return key;
  }

  isApiKey(candidate: string): boolean {
    return this.apiKeys.some((key) => safeEqual(key, candidate));
  }

  isWorkerKey(endpointId: string, candidate: string): boolean {
    return safeEqual(this.workerKey(endpointId), candidate);
  }
}

/** RunPod clients send `Authorization: Bearer KEY`; its workers send the bare key. Both are accepted. */
export function keyFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  const bearer = /^Bearer\s+(.+)$/i.exec(trimmed);
  return bearer ? bearer[1]!.trim() : trimmed;
}

function safeEqual(a: string, b: string): boolean {
  const left = crypto.createHash("sha256").update(a).digest();
  const right = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(left, right);
}

function randomToken(bytes: number): string {
  return crypto.randomBytes(bytes).toString("base64url");
}
