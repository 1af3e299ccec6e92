import type postgres from "postgres";
import type { Sql } from "./database";

/** A connection, or a transaction on one: what a grouped write runs its one statement on. */
export type Statement = Sql | postgres.TransactionSql<{ bigint: number }>;

interface Pending {
  write: (sql: Statement) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** A write of a batch failed, so the batch committed nothing; its writes run again one at a time. */
class BatchFailed extends Error {}

/**
 * Group commit for the hot path's one-statement writes (a job submitted, taken, finished). While one batch is being
 * committed, the writes that arrive wait for it and then go together: one transaction, their statements pipelined
 * on one connection, one commit, so a burst of requests costs one WAL flush and one wait for the server instead of
 * one each, and every reply still follows its commit. A write that finds nothing in flight goes at once on its own,
 * without a transaction, so a lone request pays nothing for this.
 *
 * A batch in which a write's statement fails commits nothing; its writes then run again one at a time, so each
 * fails or succeeds on its own as it would have without the batch. Statements within a batch see each other's effects (one
 * transaction), so a take after a submission in the same batch sees the new job, and two takes never hand out one.
 */
export class GroupCommit {
  private readonly waiting: Pending[] = [];
  private committing = false;

  constructor(
    private readonly sql: Sql,
    private readonly maxBatch = 64,
  ) {}

  run<T>(write: (sql: Statement) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (!this.committing) void this.commitWaiting();
    });
  }

  private async commitWaiting(): Promise<void> {
    this.committing = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      if (batch.length === 1) await this.alone(batch[0]!);
      else await this.together(batch);
    }
    this.committing = false;
  }

  private async alone(pending: Pending): Promise<void> {
    try {
      pending.resolve(await pending.write(this.sql));
    } catch (err) {
      pending.reject(err);
    }
  }

  private async together(batch: Pending[]): Promise<void> {
    let values: unknown[];
    try {
      values = (await this.sql.begin(async (tx) => {
        const settled = await Promise.allSettled(batch.map((pending) => pending.write(tx)));
        if (settled.some((s) => s.status === "rejected")) throw new BatchFailed();
        return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
      })) as unknown[];
    } catch (err) {
      // A write's own statement failed: the batch rolled back, so each may run again. Anything else (the connection
      // lost, the commit refused) leaves the outcome to the server, and each write hears it as it would alone.
      if (err instanceof BatchFailed) await Promise.all(batch.map((pending) => this.alone(pending)));
      else for (const pending of batch) pending.reject(err);
      return;
    }
    batch.forEach((pending, i) => pending.resolve(values[i]));
  }
}
