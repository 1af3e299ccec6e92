import fs from "node:fs";

/**
 * Settings that are secrets can be given as a file instead of a value: `--api-key-file` / BERTH_API_KEYS_FILE (one
 * key per line) and `--database-url-file` / BERTH_DATABASE_URL_FILE. A value in a flag shows in `ps`, one in the
 * environment in `docker inspect`; a file (mode 0600, a mounted Secret) shows to nobody without the right to read it.
 */
const SECRET_FILES = {
  apiKeys: { flag: "--api-key", fileFlag: "--api-key-file", flagKey: "apiKeyFile", parse: (text: string) => text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean) },
  databaseUrl: { flag: "--database-url", fileFlag: "--database-url-file", flagKey: "databaseUrlFile", parse: (text: string) => text.trim() },
} as const;

/** Why PostgreSQL needs the secrets key named: a key made by each replica would not open what the others wrote. */
export const SECRETS_KEY_REQUIRED =
  "--secrets-key-file / BERTH_SECRETS_KEY_FILE: required with a database URL, the same file on every control plane " +
  "sharing the database (make one with: openssl rand -base64 32)";

export type SecretField = keyof typeof SECRET_FILES;

export function isSecretField(field: string): field is SecretField {
  return field in SECRET_FILES;
}

/**
 * The value of a secret setting from its file, where one is named, at the same level as the value itself: a flag
 * beats the environment whichever form each takes, and a value and a file at the same level are refused. Undefined
 * where no file applies. An unreadable file names the flag or variable and the path, never what it holds.
 */
export function secretFromFile(
  field: SecretField,
  envName: string,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): unknown {
  const spec = SECRET_FILES[field];
  const fileVar = `${envName}_FILE`;
  const flagFile = flags[spec.flagKey];
  const envFile = env[fileVar] || undefined;
  if (flagFile !== undefined && flags[field] !== undefined) throw configError(`${spec.flag} and ${spec.fileFlag}: give one`);
  if (envFile !== undefined && env[envName]) throw configError(`${envName} and ${fileVar}: give one`);
  if (typeof flagFile === "string") return read(flagFile, spec.fileFlag, spec.parse);
  if (flags[field] !== undefined || envFile === undefined) return undefined;
  return read(envFile, fileVar, spec.parse);
}

function read(file: string, name: string, parse: (text: string) => unknown): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw configError(`${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const value = parse(text);
  if (value === "" || (Array.isArray(value) && value.length === 0)) throw configError(`${name}: ${file} is empty`);
  return value;
}

function configError(line: string): Error {
  return new Error(`invalid server configuration:\n  ${line}`);
}
