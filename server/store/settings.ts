import path from "node:path";
import { readOrCreateFile } from "../data-dir";

/**
 * Values a control plane makes once and keeps for good: the secret worker keys derive from, its id on the runtime
 * (the label on every worker it runs). Kept where its store is, so control planes sharing a PostgreSQL database
 * share them: a worker key works on every replica, and a new leader knows the workers the last one started.
 */
export interface Settings {
  /** The value named `name`, made by `make` the first time it is asked for (once, whoever asks at the same time). */
  readOrCreate(name: string, make: () => string): Promise<string>;
}

/** SQLite's control plane keeps them as files in its data directory (mode 0600), as it always has. */
export class DataDirSettings implements Settings {
  constructor(private readonly dataDir: string) {}

  async readOrCreate(name: string, make: () => string): Promise<string> {
    return readOrCreateFile(path.join(this.dataDir, name), make);
  }
}
