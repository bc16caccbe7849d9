import { performance } from 'node:perf_hooks';

export interface PaceOptions {
  /** Operations per second. */
  rate: number;
  /** More than this many waiting for an answer: the server is not keeping up, the operation due is skipped. */
  maxInFlight: number;
  /** How often the operations due are started. */
  tickMs: number;
  /** Once aborted, nothing more is started. */
  signal: AbortSignal;
}

export interface Paced {
  /** Operations skipped since the start or the last `resetSkipped`. */
  skipped(): number;
  resetSkipped(): void;
  /** Starts nothing more and waits for the operations in flight. */
  stop(): Promise<void>;
}

/**
 * Calls `start(n)` for n = 0, 1, 2, … at `rate` per second from now; an operation due while
 * `maxInFlight` are still waiting is skipped, its n not used again.
 */
export function pace(options: PaceOptions, start: (n: number) => Promise<void>): Paced {
  const { rate, maxInFlight, tickMs, signal } = options;
  const scheduled = performance.now();
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let skipped = 0;
  const timer = setInterval(() => {
    if (signal.aborted) return;
    const due = Math.floor(((performance.now() - scheduled) / 1000) * rate);
    for (; issued < due; issued += 1) {
      if (inFlight.size >= maxInFlight) {
        skipped += 1;
        continue;
      }
      const op = start(issued);
      inFlight.add(op);
      void op.finally(() => inFlight.delete(op));
    }
  }, tickMs);
  return {
    skipped: () => skipped,
    resetSkipped() {
      skipped = 0;
    },
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
    },
  };
}
