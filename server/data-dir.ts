import fs from "node:fs";
import path from "node:path";

/**
 * A value kept in the data directory (mode 0600) and made on first start: the secret worker keys derive from,
 * a generated API key, the control plane's id on its runtime.
 */
export function readOrCreateFile(file: string, make: () => string): string {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const value = make();
  // wx: two servers starting on one empty data directory must not each write a different value.
  try {
    fs.writeFileSync(file, value + "\n", { mode: 0o600, flag: "wx" });
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return fs.readFileSync(file, "utf8").trim();
    throw err;
  }
}
