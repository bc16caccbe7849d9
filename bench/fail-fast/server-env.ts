/**
 * What both parts add to their server's own settings: nothing on the pool but the measured
 * requests, and no log line for each request refused on purpose.
 */
export const MEASURED_REQUESTS_ONLY = {
  // Background work would take a lease of its own (the hold sweep reads nights, so it would
  // block as well) and leave the measured request fewer or more to wait for.
  OUTBOX_WORKERS: '0',
  WISHLIST_SYNC_ENABLED: 'false',
  HOLD_SWEEP_INTERVAL_SECONDS: '3600',
  // Each refused request is logged as an error: here they are the point, not news.
  LOG_LEVEL: 'fatal',
};
