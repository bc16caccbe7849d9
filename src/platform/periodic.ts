/**
 * Runs `work` every `intervalSeconds` on this instance until stopped; a tick that finds the
 * last run still going is skipped, and `stop` waits for a run in progress. Failures go to
 * `onError`, never out of the timer. The timer does not keep the process alive.
 */
export function runPeriodically(intervalSeconds: number, work: () => Promise<unknown>, onError: (error: unknown) => void): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= work()
      .then(() => undefined, onError)
      .finally(() => {
        running = undefined;
      });
  }, intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
