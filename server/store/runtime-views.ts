/** One endpoint's runtime view as the leading control plane published it, as JSON text. */
export interface RuntimeViewRow {
  endpointId: string;
  published: string;
}

/**
 * Where the leading control plane publishes what its runtime shows (runtimes/shared-runtime.ts) for the others
 * sharing the database. Only PostgreSQL has them: SQLite's control plane is alone and always leads.
 */
export interface RuntimeViewRows {
  load(): Promise<RuntimeViewRow[]>;
  /** Replaces the rows of `changed` endpoints and removes those of `removed`, in one transaction. */
  write(changed: RuntimeViewRow[], removed: string[]): Promise<void>;
}
