/** Time as the provider's waiters see it, injectable so their deadlines can be tested without waiting them out. */
export interface Clock { now(): number; sleep(ms: number): Promise<void> }
export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };
