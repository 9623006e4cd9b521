/** Time and timers, injected everywhere time matters so tests control them. The one clock type of pirack. */

/** The clock servers and the reconciler read and schedule on. */
export interface Clock {
  /** Milliseconds since the epoch; never goes backwards within a process (a wall-clock step does not move it). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

// performance.now() is monotonic; anchored at the process's start it reads like Date.now().
const origin = performance.timeOrigin;

/** The real clock. */
export const systemClock: Clock = {
  now: () => origin + performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  every: (ms, fn) => {
    const t = setInterval(fn, ms);
    t.unref?.();
    return () => clearInterval(t);
  },
};
