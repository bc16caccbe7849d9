import { currentRequest } from '../../src/platform/logger.js';
import { observeStatements } from '../../src/platform/sql-stats.js';

/**
 * Counts, per request id, the statements that reached the database driver while the
 * in-process app served that request — measured at the driver, not read from what the
 * server reports about itself. Send the request with an `x-request-id` of the test's own.
 */
export function watchStatements(): { sentFor(requestId: string): number; stop(): void } {
  const byRequest = new Map<string, number>();
  const stop = observeStatements(() => {
    const id = currentRequest()?.requestId;
    if (id !== undefined) byRequest.set(id, (byRequest.get(id) ?? 0) + 1);
  });
  return { sentFor: (requestId) => byRequest.get(requestId) ?? 0, stop };
}
