import { AppError, ErrorCode } from '../errors.js';

/**
 * What callers get instead of a driver error when the database cannot serve them: code
 * UNAVAILABLE (HTTP answers 503 with Retry-After), a `reason` saying which, and
 * `retryAfter` in seconds. The messages are meant for clients; the driver's error is kept
 * as `cause` for the logs.
 */
export const DATABASE_BUSY = 'The database is busy; try again';
export const DATABASE_UNAVAILABLE = 'The database is unavailable; try again shortly';
export const DATABASE_TIMEOUT = 'The database took too long to answer; try again';

/** No pooled connection became free within DB_POOL_WAIT_TIMEOUT_MS. */
export const databaseBusy = () => new AppError(ErrorCode.UNAVAILABLE, DATABASE_BUSY, { reason: 'DATABASE_BUSY', retryAfter: 1 });
/** PostgreSQL cannot be reached (refused, reset, timed out connecting, or shutting down). */
export const databaseUnavailable = (cause?: unknown) =>
  withCause(new AppError(ErrorCode.UNAVAILABLE, DATABASE_UNAVAILABLE, { reason: 'DATABASE_UNAVAILABLE', retryAfter: 1 }), cause);
export const databaseTimeout = (cause: unknown) =>
  withCause(new AppError(ErrorCode.UNAVAILABLE, DATABASE_TIMEOUT, { reason: 'DATABASE_TIMEOUT', retryAfter: 1 }), cause);

function withCause(error: AppError, cause: unknown): AppError {
  if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, enumerable: false });
  return error;
}
