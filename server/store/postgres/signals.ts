import crypto from "node:crypto";
import type { Signals } from "../../cluster/signals";
import type { Sql } from "./database";

/** NOTIFY's payload limit is 8000 bytes; a batch is split well under it. */
const MAX_PAYLOAD = 7000;

/**
 * Signals over PostgreSQL's LISTEN/NOTIFY. The messages of one turn of the event loop go out together, one NOTIFY
 * per channel, since NOTIFY commits take a cluster-wide lock in turn; each carries this control plane's id, so
 * it ignores its own. postgres.js listens on a connection of its own and listens again after a reconnect.
 */
export class PostgresSignals implements Signals {
  readonly shared = true;
  private readonly origin = crypto.randomBytes(6).toString("hex");
  private readonly pending = new Map<string, object[]>();
  private flushScheduled = false;
  private readonly unlisten: Array<() => Promise<void>> = [];

  constructor(
    private readonly sql: Sql,
    private readonly failed: (err: Error) => void,
  ) {}

  send(channel: string, message: object): void {
    const queue = this.pending.get(channel) ?? [];
    queue.push(message);
    this.pending.set(channel, queue);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  async listen(channel: string, handler: (message: object) => void, resumed?: () => void): Promise<void> {
    let listening = false;
    const { unlisten } = await this.sql.listen(
      channel,
      (payload) => {
        const batch = JSON.parse(payload) as { from: string; messages: object[] };
        if (batch.from !== this.origin) for (const message of batch.messages) handler(message);
      },
      // postgres.js calls this on every LISTEN, the first one included.
      () => {
        if (listening) resumed?.();
        listening = true;
      },
    );
    this.unlisten.push(unlisten);
  }

  async close(): Promise<void> {
    this.flush();
    await Promise.all(this.unlisten.splice(0).map((unlisten) => unlisten()));
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [channel, messages] of this.pending) {
      let batch: object[] = [];
      let size = 0;
      const sendBatch = () => {
        if (batch.length === 0) return;
        const payload = JSON.stringify({ from: this.origin, messages: batch });
        this.sql.notify(channel, payload).catch(this.failed);
        batch = [];
        size = 0;
      };
      for (const message of messages) {
        const length = JSON.stringify(message).length + 1;
        if (size + length > MAX_PAYLOAD - 64) sendBatch();
        batch.push(message);
        size += length;
      }
      sendBatch();
    }
    this.pending.clear();
  }
}
