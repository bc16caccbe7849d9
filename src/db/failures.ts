/**
 * What callers get instead of a driver error when the database cannot serve them: a
 * DatabaseUnavailableError with a `reason` saying which, and how many seconds to wait
 * before trying again. The messages are meant for clients; the driver's error is kept as
 * `cause` for the logs. The API layer decides what clients see of it (errors.ts: code
 * UNAVAILABLE, and HTTP 503 with Retry-After).
 */
export const DATABASE_BUSY = 'The database is busy; try again';
export const DATABASE_UNAVAILABLE = 'The database is unavailable; try again shortly';
export const DATABASE_TIMEOUT = 'The database took too long to answer; try again';

export type DatabaseUnavailableReason = 'DATABASE_BUSY' | 'DATABASE_UNAVAILABLE' | 'DATABASE_TIMEOUT';

/** The database could not serve a statement now; the same statement may succeed after `retryAfterSeconds`. */
export class DatabaseUnavailableError extends Error {
  constructor(
    readonly reason: DatabaseUnavailableReason,
    message: string,
    readonly retryAfterSeconds: number,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/** No pooled connection became free within DB_POOL_WAIT_TIMEOUT_MS. */
export const databaseBusy = () => new DatabaseUnavailableError('DATABASE_BUSY', DATABASE_BUSY, 1);
/** PostgreSQL cannot be reached (refused, reset, timed out connecting, or shutting down). */
export const databaseUnavailable = (cause?: unknown) => new DatabaseUnavailableError('DATABASE_UNAVAILABLE', DATABASE_UNAVAILABLE, 1, cause);
/** A statement was cancelled by the statement timeout, or its answer never came. */
export const databaseTimeout = (cause: unknown) => new DatabaseUnavailableError('DATABASE_TIMEOUT', DATABASE_TIMEOUT, 1, cause);
