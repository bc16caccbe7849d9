import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { observeStatements } from '../platform/sql-stats.js';

/** The app's Prometheus metrics, on a registry of its own (several apps may share a process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nightgraph_' });
  const graphqlRequests = new Counter({
    name: 'nightgraph_graphql_requests_total',
    help: 'GraphQL HTTP requests by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'nightgraph_graphql_request_duration_seconds',
    help: 'Time to answer a GraphQL HTTP request',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const statementsPerRequest = new Histogram({
    name: 'nightgraph_sql_statements_per_request',
    help: 'SQL statements sent to answer one GraphQL request',
    buckets: [0, 1, 2, 3, 4, 5, 8, 13, 21, 50, 100],
    registers: [registry],
  });
  const statementDuration = new Histogram({
    name: 'nightgraph_sql_statement_duration_seconds',
    help: 'Round-trip time of one SQL statement',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const stopObserving = observeStatements((ms) => statementDuration.observe(ms / 1000));

  const deliveries = new Histogram({
    name: 'nightgraph_notification_delivery_seconds',
    help: 'One delivery of a notification to a target (live pub/sub or a webhook), by outcome',
    labelNames: ['channel', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const outboxRows = new Counter({
    name: 'nightgraph_outbox_rows_total',
    help: 'Outbox rows this instance finished an attempt on: processed, retried later, or moved to dead-letter',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'nightgraph_rate_limited_total',
    help: 'Requests refused with RATE_LIMITED, by budget (query, mutation)',
    labelNames: ['budget'] as const,
    registers: [registry],
  });
  const wishlistSyncs = new Counter({
    name: 'nightgraph_wishlist_syncs_total',
    help: 'Wishlist syncs by outcome (stale_lease: the lease ran out before the write, which was refused)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  let outboxStats: (() => Promise<{ pending: number; lagSeconds: number; dead: number }>) | undefined;
  // The three outbox gauges read one query per scrape: the first collect() starts it, the others share it.
  let scrape: Promise<Awaited<ReturnType<NonNullable<typeof outboxStats>>> | undefined> | undefined;
  const readOutbox = () =>
    (scrape ??= (outboxStats?.() ?? Promise.resolve(undefined))
      // The database is unreachable: the gauges keep their last values and /readyz says why.
      .catch(() => undefined)
      .finally(() => setImmediate(() => (scrape = undefined))));
  const outboxGauge = (name: string, help: string, pick: (stats: { pending: number; lagSeconds: number; dead: number }) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const stats = await readOutbox();
        if (stats) this.set(pick(stats));
      },
    });
  outboxGauge('nightgraph_outbox_pending', 'Outbox rows not yet delivered or dead (queue depth)', (s) => s.pending);
  outboxGauge('nightgraph_outbox_lag_seconds', 'Age of the oldest outbox row still to deliver (0 when none)', (s) => s.lagSeconds);
  outboxGauge('nightgraph_outbox_dead', 'Outbox rows in dead-letter', (s) => s.dead);

  return {
    registry,
    graphqlRequests,
    requestDuration,
    statementsPerRequest,
    wishlistSyncs,
    rateLimited,
    outbox: {
      delivered: (channel: 'live' | 'webhook', outcome: 'delivered' | 'failed', seconds: number) =>
        deliveries.observe({ channel, outcome }, seconds),
      rows: (outcome: 'processed' | 'retried' | 'dead', count: number) => {
        if (count > 0) outboxRows.inc({ outcome }, count);
      },
    },
    /** Where the outbox gauges read from, at each scrape. */
    watchOutbox(stats: typeof outboxStats) {
      outboxStats = stats;
    },
    close: stopObserving,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
