import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PubSub } from '../platform/pubsub.js';
import { observeStatements, type SqlStats } from '../platform/sql-stats.js';
import type { VersionedStore } from '../platform/versioned-store.js';
import type { DeliveryChannel, OutboxMetrics } from '../modules/notifications/worker.js';
import type { PacedOutcome, TelegramMetrics } from '../modules/telegram/channel.js';

/** Distinct operation names a process labels metrics with; later ones are counted as 'other'. */
export const OPERATION_LABELS_MAX = 100;
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

export type RequestOutcome = 'ok' | 'error' | 'rejected';

/** What `/metrics` answers: one app's registry, or a whole host's workers (host-metrics.ts). */
export interface MetricsExposition {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * The app's Prometheus metrics, on a registry of its own (several apps may share a process).
 * With WEB_CONCURRENCY workers, /metrics adds up every worker's (host-metrics.ts): each
 * metric's `aggregator` says how, and is `sum` (prom-client's default) unless set here.
 */
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
    help:
      'Time to answer a GraphQL HTTP request, by operation (its name if the document was valid and named, else anonymous; ' +
      `'other' past ${OPERATION_LABELS_MAX} names) and outcome (ok; error: the response has errors; rejected: refused before GraphQL)`,
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const operationStatements = new Counter({
    name: 'nightgraph_sql_statements_total',
    help: 'SQL statements sent to answer GraphQL HTTP requests, by operation',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  const operationSqlSeconds = new Counter({
    name: 'nightgraph_sql_statement_seconds_total',
    help: 'Time spent in SQL statements (summed round trips) answering GraphQL HTTP requests, by operation',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  const operationNames = new Set<string>();
  /** The `operation` label for a resolved operation's name: bounded, whatever clients send. */
  const operationLabel = (name: string | null | undefined): string => {
    if (!name || !OPERATION_NAME.test(name)) return 'anonymous';
    if (operationNames.has(name)) return name;
    if (operationNames.size >= OPERATION_LABELS_MAX) return 'other';
    operationNames.add(name);
    return name;
  };
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
  const redisErrors = new Counter({
    name: 'nightgraph_redis_errors_total',
    help: 'Redis calls that failed (the cache then reads PostgreSQL; pub/sub delivers locally), by operation',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'nightgraph_rate_limited_total',
    help: 'Requests refused with RATE_LIMITED, by budget (query, mutation)',
    labelNames: ['budget'] as const,
    registers: [registry],
  });
  const identityProviderFetches = new Counter({
    name: 'nightgraph_identity_provider_fetches_total',
    help: "Requests to the identity provider, by document (discovery: its OpenID configuration; keys: its key set) and outcome",
    labelNames: ['document', 'outcome'] as const,
    registers: [registry],
  });
  const wishlistSyncs = new Counter({
    name: 'nightgraph_wishlist_syncs_total',
    help: 'Wishlist syncs by outcome (stale_lease: the lease ran out before the write, which was refused)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const pubsubMessages = new Counter({
    name: 'nightgraph_pubsub_messages_total',
    help: 'Pub/sub messages: published by this instance, and delivered to its local listeners',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const cacheLookups = new Counter({
    name: 'nightgraph_cache_lookups_total',
    help: 'Cache lookups by cache (response: availability responses; snapshots: the shared snapshot store) and outcome',
    labelNames: ['cache', 'outcome'] as const,
    registers: [registry],
  });
  const trustedDocumentChecks = new Counter({
    name: 'nightgraph_trusted_document_checks_total',
    help:
      'Requests checked against the trusted-documents manifest (TRUSTED_DOCUMENTS log or enforce), by transport, document ' +
      '(manifest: named by id, or sent as its exact text; unknown_id: an id the manifest lacks; free_text: any other text) and action (run, refused)',
    labelNames: ['transport', 'document', 'action'] as const,
    registers: [registry],
  });
  let activeSubscriptions: (() => number) | undefined;
  new Gauge({
    name: 'nightgraph_subscriptions_active',
    help: 'GraphQL subscriptions currently running over WebSocket on this instance',
    // Across workers: the host's subscriptions.
    aggregator: 'sum',
    registers: [registry],
    collect() {
      this.set(activeSubscriptions?.() ?? 0);
    },
  });
  let poolStats: (() => { inUse: number; waiting: number; max: number }) | undefined;
  const poolGauge = (name: string, help: string, pick: (stats: { inUse: number; waiting: number; max: number }) => number) =>
    new Gauge({
      name,
      help,
      // Each worker has a pool of its own: across workers, the host's connections to PostgreSQL.
      aggregator: 'sum',
      registers: [registry],
      collect() {
        const stats = poolStats?.();
        if (stats) this.set(pick(stats));
      },
    });
  poolGauge('nightgraph_db_pool_in_use', 'Database connections of the pool running a statement or transaction', (s) => s.inUse);
  poolGauge('nightgraph_db_pool_waiting', 'Statements waiting for a pooled database connection', (s) => s.waiting);
  poolGauge('nightgraph_db_pool_max', 'Size of the database connection pool', (s) => s.max);

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
      // Every worker reads the same table at each scrape: a sum would count each row once per
      // worker. Their reads of the one value differ only by what changed between them.
      aggregator: 'max',
      registers: [registry],
      async collect() {
        const stats = await readOutbox();
        if (stats) this.set(pick(stats));
      },
    });
  outboxGauge('nightgraph_outbox_pending', 'Outbox rows not yet delivered or dead (queue depth)', (s) => s.pending);
  outboxGauge('nightgraph_outbox_lag_seconds', 'Age of the oldest outbox row still to deliver (0 when none)', (s) => s.lagSeconds);
  outboxGauge('nightgraph_outbox_dead', 'Outbox rows in dead-letter', (s) => s.dead);

  const telegramSends = new Counter({
    name: 'nightgraph_telegram_sends_total',
    help: 'Telegram sendMessage calls by outcome (sent, rate_limited: 429, blocked: 403, rejected: other 4xx, unavailable: 5xx or network), and deferred: held back for the bot\'s or the chat\'s pace',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const telegramRetryAfter = new Histogram({
    name: 'nightgraph_telegram_retry_after_seconds',
    help: "The retry_after of Telegram's 429 answers",
    buckets: [1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  let telegramPause: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'nightgraph_telegram_pause_seconds',
    help: 'How long the bot stays paused by a 429, on every instance (0: sending)',
    // Every worker reads the same shared pause.
    aggregator: 'max',
    registers: [registry],
    async collect() {
      if (telegramPause) this.set((await telegramPause().catch(() => 0)) / 1000);
    },
  });

  const cacheLookup = (cache: string, outcome: 'hit' | 'miss') => cacheLookups.inc({ cache, outcome });

  return {
    registry,
    graphqlRequests,
    requestDuration,
    statementsPerRequest,
    operationLabel,
    /** One GraphQL HTTP request answered (or refused): its time, and the SQL it cost, by operation. */
    requestServed(served: { operation: string | undefined; outcome: RequestOutcome; seconds: number; sql: SqlStats | undefined }) {
      const operation = served.operation ?? 'anonymous';
      requestDuration.observe({ operation, outcome: served.outcome }, served.seconds);
      const statements = served.sql?.statements ?? 0;
      statementsPerRequest.observe(statements);
      operationStatements.inc({ operation }, statements);
      operationSqlSeconds.inc({ operation }, (served.sql?.durationMs ?? 0) / 1000);
    },
    /** A lookup in one of the caches (`cache`: response, snapshots, …). */
    cacheLookup,
    pubsubMessage: (direction: 'published' | 'delivered', count = 1) => pubsubMessages.inc({ direction }, count),
    /** `pubsub`, counting each message published through it and each delivery to a local listener. */
    countPubSub(pubsub: PubSub): PubSub {
      return {
        async publish(topic, message) {
          await pubsub.publish(topic, message);
          pubsubMessages.inc({ direction: 'published' });
        },
        subscribe: (topic, onMessage) =>
          pubsub.subscribe(topic, (message) => {
            pubsubMessages.inc({ direction: 'delivered' });
            onMessage(message);
          }),
        close: () => pubsub.close(),
      };
    },
    /** `store`, counting its reads of snapshots as hits and misses of the 'snapshots' cache. */
    countSnapshotStore(store: VersionedStore): VersionedStore {
      return {
        ...store,
        async getMany(keys) {
          const found = await store.getMany(keys);
          let hits = 0;
          for (const entry of found) if (entry !== null) hits += 1;
          if (hits > 0) cacheLookups.inc({ cache: 'snapshots', outcome: 'hit' }, hits);
          if (found.length > hits) cacheLookups.inc({ cache: 'snapshots', outcome: 'miss' }, found.length - hits);
          return found;
        },
      };
    },
    /** Where the active-subscriptions gauge reads from, at each scrape. */
    watchSubscriptions(count: () => number) {
      activeSubscriptions = count;
    },
    /** Where the pool gauges read from, at each scrape (postgres.js only: PGlite has no pool). */
    watchPool(stats: typeof poolStats) {
      poolStats = stats;
    },
    /** One request checked against the trusted-documents manifest. */
    trustedDocumentCheck: (transport: string, document: 'manifest' | 'unknown_id' | 'free_text', action: 'run' | 'refused') =>
      trustedDocumentChecks.inc({ transport, document, action }),
    wishlistSyncs,
    identityProviderFetches,
    rateLimited,
    redisErrors,
    outbox: {
      delivered: (channel: DeliveryChannel, outcome: 'delivered' | 'failed' | 'given_up', seconds: number) =>
        deliveries.observe({ channel, outcome }, seconds),
      rows: (outcome: 'processed' | 'retried' | 'dead' | 'deferred', count: number) => {
        if (count > 0) outboxRows.inc({ outcome }, count);
      },
    } satisfies OutboxMetrics,
    telegram: {
      sent: (outcome: PacedOutcome['kind']) => telegramSends.inc({ outcome: outcome.replace('-', '_') }),
      retryAfter: (seconds: number) => telegramRetryAfter.observe(seconds),
    } satisfies TelegramMetrics,
    /** Where the Telegram pause gauge reads from, at each scrape. */
    watchTelegramPause(pausedForMs: () => Promise<number>) {
      telegramPause = pausedForMs;
    },
    /** Where the outbox gauges read from, at each scrape. */
    watchOutbox(stats: typeof outboxStats) {
      outboxStats = stats;
    },
    close: stopObserving,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
