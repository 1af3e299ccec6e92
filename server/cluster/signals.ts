/**
 * How control planes sharing one store tell each other what just changed (a job was queued or ended, a worker
 * must stop a job, a resource was written), so that a long-poll on one is answered when the change happens on
 * another, without any of them polling the database. Best effort: a message lost while a connection is down
 * costs a long-poll its wait, never data, which is always read from the store.
 */
export interface Signals {
  /** False for a store nobody else writes: there is never anything to hear, or to read again. */
  readonly shared: boolean;
  /** Tells every other control plane listening on the channel. */
  send(channel: string, message: object): void;
  /**
   * Messages the others send on the channel (never this one's own). `resumed` is called when messages flow again
   * after a break (a reconnect), during which some may have been lost.
   */
  listen(channel: string, handler: (message: object) => void, resumed?: () => void): Promise<void>;
  close(): Promise<void>;
}

/** One control plane on its own store (SQLite): nobody else to tell. */
export const noSignals: Signals = {
  shared: false,
  send: () => undefined,
  listen: async () => undefined,
  close: async () => undefined,
};

/** What a part of the store kept in memory needs to follow the other control planes' changes. */
export interface SharedStore {
  signals: Signals;
  /** Told of a write or reload that failed (logged: the store converges at the next change). */
  failed: (err: Error) => void;
}

/** One control plane on its own store. */
export const notShared: SharedStore = { signals: noSignals, failed: () => undefined };

/**
 * Reads until no change was counted while reading (`changes` counts the signals heard, or the writes made here),
 * so what it returns is no older than any of them: a read that raced a change is made again.
 */
export async function readAfterChanges<T>(read: () => Promise<T>, changes: () => number): Promise<T> {
  for (;;) {
    const before = changes();
    const value = await read();
    if (changes() === before) return value;
  }
}
