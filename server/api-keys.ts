import crypto from "node:crypto";
import { InvalidFieldError, NotFoundError } from "./errors";

/**
 * What an API key may do (issue 17): `admin` everything; `read` the admin and monitoring reads (no writes); `run`
 * the client API of the endpoints it names, nothing else. The bootstrap key (keys.ts) stays an admin key.
 */
export type KeyScope = "admin" | "read" | "run";

export interface ApiKeyRecord {
  /** Public, in the key itself and in every listing; the secret part is never kept. */
  id: string;
  name: string;
  scope: KeyScope;
  /** The endpoints a `run` key may call; empty for the other scopes. */
  endpointIds: string[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** An API key as stored: its record and the SHA-256 of its secret part. */
export interface StoredApiKey extends ApiKeyRecord {
  secretHash: string;
}

/** Where API keys are kept: the control plane's store, so every replica knows them. */
export interface ApiKeyRows {
  insert(key: StoredApiKey): Promise<void>;
  get(id: string): Promise<StoredApiKey | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when there is no such key or it already was. */
  revoke(id: string, now: number): Promise<boolean>;
  used(id: string, now: number): Promise<void>;
}

const KEY_FORMAT = /^bk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Last-used times are written at most this often per key: a write per request would cost every call. */
const USED_WRITE_EVERY_MS = 60_000;
/**
 * How long a verdict on a token is reused: a store read per request would cost every call, and a revoke made on
 * another control plane must take effect within a second. Expiry is checked on every use.
 */
export const VERIFY_CACHE_MS = 1_000;
/** Verdicts kept at most; beyond, the cache starts again (a flood of made-up tokens cannot grow it). */
const VERIFY_CACHE_MAX = 10_000;

/**
 * API keys with scopes: made with a random secret shown once, kept as the secret's SHA-256 (a 256-bit random
 * secret needs no slow hash: nothing can be guessed), checked against the store on use.
 */
export class ApiKeys {
  private readonly usedWrittenAt = new Map<string, number>();
  /** By the token's SHA-256: the key's record, or undefined for a token that is no key of ours. */
  private readonly verdicts = new Map<string, { record: ApiKeyRecord | undefined; at: number }>();

  constructor(private readonly rows: ApiKeyRows) {}

  /** A new key; `key` is the only time its secret exists outside the caller. */
  async create(spec: { name: string; scope: KeyScope; endpointIds?: string[]; expiresAt?: number }, now: number): Promise<{ key: string; record: ApiKeyRecord }> {
    const endpointIds = [...new Set(spec.endpointIds ?? [])].sort();
    if (spec.scope === "run" && endpointIds.length === 0) throw new InvalidFieldError("endpointIds", "a run key names the endpoints it may call");
    if (spec.scope !== "run" && endpointIds.length > 0) throw new InvalidFieldError("endpointIds", `only a run key names endpoints, not a ${spec.scope} key`);
    if (spec.expiresAt !== undefined && spec.expiresAt <= now) throw new InvalidFieldError("expiresAt", "must be in the future");
    const id = crypto.randomBytes(8).toString("hex");
    const secret = crypto.randomBytes(32).toString("base64url");
    const record: ApiKeyRecord = {
      id,
      name: spec.name,
      scope: spec.scope,
      endpointIds,
      createdAt: now,
      expiresAt: spec.expiresAt ?? null,
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.rows.insert({ ...record, secretHash: hash(secret) });
    return { key: `bk_${id}_${secret}`, record };
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.rows.list();
  }

  async get(id: string): Promise<ApiKeyRecord> {
    const stored = await this.rows.get(id);
    if (!stored) throw new NotFoundError("key_not_found", `API key ${id} does not exist`);
    return withoutHash(stored);
  }

  async revoke(id: string, now: number): Promise<void> {
    if (!(await this.rows.revoke(id, now))) await this.get(id);
    for (const [token, verdict] of this.verdicts) if (verdict.record?.id === id) this.verdicts.delete(token);
  }

  /** The key's record when `token` is one of ours, not revoked and not expired; else undefined. */
  async verify(token: string, now: number): Promise<ApiKeyRecord | undefined> {
    const tokenHash = hash(token);
    let verdict = this.verdicts.get(tokenHash);
    if (!verdict || now - verdict.at >= VERIFY_CACHE_MS) {
      verdict = { record: await this.lookUp(token, now), at: now };
      if (this.verdicts.size >= VERIFY_CACHE_MAX) this.verdicts.clear();
      this.verdicts.set(tokenHash, verdict);
    }
    const { record } = verdict;
    return record && (record.expiresAt === null || record.expiresAt > now) ? record : undefined;
  }

  private async lookUp(token: string, now: number): Promise<ApiKeyRecord | undefined> {
    const match = KEY_FORMAT.exec(token);
    if (!match) return undefined;
    const stored = await this.rows.get(match[1]!);
    if (!stored || !crypto.timingSafeEqual(Buffer.from(stored.secretHash, "hex"), Buffer.from(hash(match[2]!), "hex"))) return undefined;
    if (stored.revokedAt !== null) return undefined;
    if (now - (this.usedWrittenAt.get(stored.id) ?? -Infinity) >= USED_WRITE_EVERY_MS) {
      this.usedWrittenAt.set(stored.id, now);
      await this.rows.used(stored.id, now);
    }
    return withoutHash(stored);
  }
}

/** A key as shown: everything but its hash. */
export function withoutHash(key: StoredApiKey): ApiKeyRecord {
  const { secretHash: _hidden, ...record } = key;
  return record;
}

function hash(secret: string): string {
  return crypto.createHash("sha256").update(secret).digest("hex");
}
