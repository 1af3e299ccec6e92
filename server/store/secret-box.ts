import crypto from "node:crypto";
import fs from "node:fs";
import { readOrCreateFile } from "../data-dir";

/** How secret values look at rest: self-describing, so a wrong key is named as such rather than read as garbage. */
const PREFIX = "enc:v1:";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FLAG = "--secrets-key-file / BERTH_SECRETS_KEY_FILE";

/**
 * Encrypts the values of secret env variables before they reach the store (AES-256-GCM) with a key kept apart
 * from it: a copy of the database alone reveals none of them. A sealed value is "enc:v1:<fingerprint>:<base64 of
 * iv, tag, ciphertext>"; the fingerprint names the key without revealing it, so a store opened with another key
 * fails with a message saying so.
 */
export class SecretBox {
  private constructor(
    private readonly key: Buffer,
    /** Where the key came from, for messages. */
    readonly file: string,
    readonly fingerprint: string,
  ) {}

  /**
   * The key in `file`: 32 random bytes in base64. With `create` (SQLite's default key in its data directory) a
   * missing file is made, mode 0600; a file that was named must exist, since replicas sharing a database must share
   * one key, and a fresh one would not open what the others wrote.
   */
  static load(file: string, options: { create: boolean }): SecretBox {
    let text: string;
    try {
      text = options.create ? readOrCreateFile(file, () => crypto.randomBytes(KEY_BYTES).toString("base64")) : fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`${FLAG}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const key = Buffer.from(text.trim(), "base64");
    if (key.length !== KEY_BYTES || !/^[A-Za-z0-9+/=_-]+$/.test(text.trim())) {
      throw new Error(`${FLAG}: ${file} must hold ${KEY_BYTES} random bytes in base64 (make one with: openssl rand -base64 ${KEY_BYTES})`);
    }
    return new SecretBox(key, file, fingerprintOf(key));
  }

  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }

  seal(plaintext: string): string {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${PREFIX}${this.fingerprint}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
  }

  /** The plaintext of a sealed value; a value sealed with another key, or altered, is an error that says which. */
  open(sealed: string): string {
    const [fingerprint, payload] = sealed.slice(PREFIX.length).split(":");
    if (fingerprint !== this.fingerprint) {
      throw new Error(
        `secret env values in the store were encrypted with the key of fingerprint ${fingerprint}, not with the key in ${this.file} ` +
          `(fingerprint ${this.fingerprint}): start with the key file they were written with (${FLAG})`,
      );
    }
    const bytes = Buffer.from(payload ?? "", "base64");
    try {
      const decipher = crypto.createDecipheriv("aes-256-gcm", this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new Error(`a secret env value in the store fails its integrity check under the key in ${this.file}: it was altered or truncated`);
    }
  }
}

/** Names a key without revealing it: an HMAC of a fixed label, not a hash of the key itself. */
function fingerprintOf(key: Buffer): string {
  return crypto.createHmac("sha256", key).update("berth secrets key fingerprint").digest("hex").slice(0, 16);
}
