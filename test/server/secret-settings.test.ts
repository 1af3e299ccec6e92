// Secret settings given as files (--api-key-file, --database-url-file and their _FILE variables), and the secrets
// key a database URL requires: read through the server's own config loader.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadServerConfig } from "../../server/config";

const KEY = "k".repeat(20) + "-secret-key";
const OTHER_KEY = "o".repeat(20) + "-other-key";
const URL_WITH_PASSWORD = "postgres://berth:pa55-w0rd@db:5432/berth";

function fileWith(t: { after(fn: () => void): void }, name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-secret-settings-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (err) {
    return (err as Error).message;
  }
  return assert.fail("the configuration was accepted");
};

test("API keys and the database URL are read from the files the variables or flags name", (t) => {
  const keys = fileWith(t, "api-keys", `${KEY}\n\n  ${OTHER_KEY}  \n`);
  const url = fileWith(t, "database-url", URL_WITH_PASSWORD + "\n");
  const fromEnv = loadServerConfig({}, { BERTH_API_KEYS_FILE: keys, BERTH_DATABASE_URL_FILE: url, BERTH_SECRETS_KEY_FILE: "/k" });
  assert.deepEqual(fromEnv.apiKeys, [KEY, OTHER_KEY], "one key a line, blank lines and spaces ignored");
  assert.equal(fromEnv.databaseUrl, URL_WITH_PASSWORD);
  const fromFlags = loadServerConfig({ apiKeyFile: keys, databaseUrlFile: url, secretsKeyFile: "/k" }, {});
  assert.deepEqual([fromFlags.apiKeys, fromFlags.databaseUrl], [fromEnv.apiKeys, fromEnv.databaseUrl]);
  // A flag beats the environment whichever form each takes.
  assert.deepEqual(loadServerConfig({ apiKeys: [OTHER_KEY] }, { BERTH_API_KEYS_FILE: keys }).apiKeys, [OTHER_KEY]);
  assert.deepEqual(loadServerConfig({ apiKeyFile: keys }, { BERTH_API_KEYS: OTHER_KEY }).apiKeys, [KEY, OTHER_KEY]);
});

test("a missing, empty or doubly given secret file is refused, naming the flag or variable and the path only", (t) => {
  const missing = path.join(os.tmpdir(), "berth-no-such-dir", "api-keys");
  assert.equal(
    refusal(() => loadServerConfig({}, { BERTH_API_KEYS_FILE: missing })),
    `invalid server configuration:\n  BERTH_API_KEYS_FILE: cannot read ${missing}: ENOENT`,
  );
  assert.match(refusal(() => loadServerConfig({ databaseUrlFile: missing }, {})), /^invalid server configuration:\n {2}--database-url-file: cannot read .*: ENOENT$/);
  const empty = fileWith(t, "empty", "\n \n");
  assert.match(refusal(() => loadServerConfig({ apiKeyFile: empty }, {})), /--api-key-file: .*empty is empty/);
  const url = fileWith(t, "database-url", URL_WITH_PASSWORD);
  assert.match(refusal(() => loadServerConfig({ databaseUrl: URL_WITH_PASSWORD, databaseUrlFile: url }, {})), /--database-url and --database-url-file: give one/);
  assert.match(
    refusal(() => loadServerConfig({}, { BERTH_DATABASE_URL: URL_WITH_PASSWORD, BERTH_DATABASE_URL_FILE: url })),
    /BERTH_DATABASE_URL and BERTH_DATABASE_URL_FILE: give one/,
  );
  // A file's value breaking a rule is refused by that rule, without its contents.
  const short = fileWith(t, "short-key", "too-short\n");
  const message = refusal(() => loadServerConfig({ apiKeyFile: short }, {}));
  assert.match(message, /API keys must be at least 16 characters/);
  assert.ok(!message.includes("too-short"));
  const notPostgres = fileWith(t, "mysql", "mysql://berth:pa55-w0rd@db/berth");
  assert.ok(!refusal(() => loadServerConfig({ databaseUrlFile: notPostgres, secretsKeyFile: "/k" }, {})).includes("pa55-w0rd"));
});

test("a database URL without a secrets key file is refused, naming the flag and why", () => {
  const message = refusal(() => loadServerConfig({ databaseUrl: URL_WITH_PASSWORD }, {}));
  assert.match(message, /--secrets-key-file \/ BERTH_SECRETS_KEY_FILE: required with a database URL, the same file on every control plane/);
  assert.ok(!message.includes("pa55-w0rd"));
  assert.equal(loadServerConfig({ databaseUrl: URL_WITH_PASSWORD }, { BERTH_SECRETS_KEY_FILE: "/etc/berth/secrets.key" }).secretsKeyFile, "/etc/berth/secrets.key");
  assert.equal(loadServerConfig({}, {}).secretsKeyFile, undefined, "SQLite makes its own in the data directory");
});
