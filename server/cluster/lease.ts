/**
 * A time-limited claim to lead the control planes that share one database: at most one holder at a time, and a
 * claim nobody renews lapses after its ttl, by the database's clock.
 */
export interface Lease {
  /** Claims the lease for `holder`, or renews it if `holder` has it, for `ttlMs`; true when `holder` holds it now. */
  claim(holder: string, ttlMs: number): Promise<boolean>;
  /** Gives it up at once (a clean shutdown), so that another control plane need not wait out the ttl. */
  release(holder: string): Promise<void>;
}

/** One control plane on its own database (SQLite): it always leads. */
export const soleLease: Lease = {
  claim: async () => true,
  release: async () => undefined,
};
