import { z } from 'zod';

const flag = z
  .enum(['true', 'false', '1', '0', 'on', 'off'])
  .transform((v) => v === 'true' || v === '1' || v === 'on');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  PUBLIC_URL: z.url().optional(),
  DATABASE_URL: z.string().min(1).optional(),
  REDIS_URL: z.string().min(1).optional(),
  DATA_DIR: z.string().default('./.data'),
  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  DB_POOL_MAX: z.coerce.number().int().positive().default(10),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  DB_CONNECT_TIMEOUT_S: z.coerce.number().int().positive().default(5),
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().default(500),
  REDIS_KEY_PREFIX: z.string().default('nightgraph:'),
  /** Unset: on, but off in production (demo data is never loaded there unless asked for). */
  SEED_DEMO_DATA: flag.optional(),
  /** Production with PostgreSQL but no Redis runs only when this says it is the only instance. */
  SINGLE_INSTANCE: flag.default(false),
  HOLD_TTL_SECONDS: z.coerce.number().int().positive().default(600),
  HOLD_SWEEP_INTERVAL_SECONDS: z.coerce.number().positive().default(5),
  NIGHT_REPORT_INTERVAL_SECONDS: z.coerce.number().positive().default(60),
  RESPONSE_CACHE: flag.default(true),
  VOTE_PUSH_INTERVAL_MS: z.coerce.number().int().min(0).default(250),
  VOTE_RESULTS_CACHE: flag.default(true),
  NIGHT_REPORT_CACHE: flag.default(true),
  ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean)),
  SQL_STATS_IN_EXTENSIONS: flag.optional(),
  LOADER_BATCHING: flag.default(true),
  WISHLIST_SYNC_ENABLED: flag.default(true),
  WISHLIST_SYNC_INTERVAL_SECONDS: z.coerce.number().positive().default(300),
  WISHLIST_SYNC_POLL_SECONDS: z.coerce.number().positive().default(5),
  WISHLIST_SYNC_CONCURRENCY: z.coerce.number().int().positive().default(4),
  WISHLIST_SYNC_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  WISHLIST_SYNC_RETRIES: z.coerce.number().int().min(0).default(2),
  WISHLIST_SYNC_LEASE_SECONDS: z.coerce.number().positive().default(60),
  OUTBOX_WORKERS: z.coerce.number().int().min(0).default(2),
  OUTBOX_BATCH_SIZE: z.coerce.number().int().positive().default(100),
  OUTBOX_CONCURRENCY: z.coerce.number().int().positive().default(32),
  OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().positive().default(10),
  OUTBOX_RETRY_BASE_MS: z.coerce.number().int().positive().default(1_000),
  OUTBOX_RETRY_MAX_MS: z.coerce.number().int().positive().default(3_600_000),
  OUTBOX_LEASE_SECONDS: z.coerce.number().positive().default(60),
  OUTBOX_POLL_MS: z.coerce.number().int().positive().default(1_000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  GRAPHQL_INTROSPECTION: flag.optional(),
  QUERY_MAX_DEPTH: z.coerce.number().int().positive().default(10),
  QUERY_MAX_ALIASES: z.coerce.number().int().min(0).default(15),
  QUERY_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(10),
  QUERY_MAX_TOKENS: z.coerce.number().int().positive().default(2_000),
  QUERY_MAX_COST: z.coerce.number().int().positive().default(10_000),
  REQUEST_MAX_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  RATE_LIMIT_ENABLED: flag.default(true),
  RATE_LIMIT_QUERIES_PER_MINUTE: z.coerce.number().int().positive().default(600),
  RATE_LIMIT_MUTATIONS_PER_MINUTE: z.coerce.number().int().positive().default(120),
  PERSISTED_QUERIES: flag.default(true),
  DB_POOL_WAIT_TIMEOUT_MS: z.coerce.number().int().positive().default(2_000),
  SLOW_STATEMENT_MS: z.coerce.number().int().positive().default(200),
  SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().positive().default(10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  /** Base URL printed at start-up; defaults to http://localhost:<port>. */
  publicUrl: string | undefined;
  database:
    | {
        kind: 'postgres';
        url: string;
        poolMax: number;
        statementTimeoutMs: number;
        connectTimeoutS: number;
        /** How long a statement may wait for a pooled connection before it fails with a clear error. */
        poolWaitTimeoutMs?: number;
      }
    | { kind: 'pglite'; dataDir: string | undefined };
  redis: { url: string; commandTimeoutMs: number; keyPrefix: string } | undefined;
  dataDir: string;
  /** Undefined in embedded mode until `resolveJwtSecret` reads or creates one under dataDir. */
  jwtSecret: string | undefined;
  seedDemoData: boolean;
  bookings: {
    /** How long a hold keeps a table. */
    holdTtlSeconds: number;
    /** How often every instance looks for expired holds to release. */
    sweepIntervalSeconds: number;
  };
  /** How often every instance looks for nights that are over to write their final report. */
  nightReportIntervalSeconds: number;
  /** At most one vote-results push per session per this many milliseconds. */
  votePushIntervalMs: number;
  /** Serve vote results from the shared cache (off: every read runs the GROUP BY; for benchmarks). */
  voteResultsCache: boolean;
  /** Live night reports cached per night in the shared cache (false only to measure without it). */
  nightReportCache: boolean;
  /** Serve repeated availability reads from bytes cached per snapshot version. */
  responseCache: boolean;
  /** Browser origins, besides the server's own, allowed to open a WebSocket. */
  allowedOrigins: string[];
  /** Return SQL statement counts and time in each response's `extensions`. */
  sqlStatsInExtensions: boolean;
  /** Off only to measure the naive per-parent loading the benchmarks compare against. */
  loaderBatching: boolean;
  logLevel: string;
  wishlistSync: {
    /** Off: this instance never syncs on its own (`syncStreamer` still works). */
    enabled: boolean;
    /** How long after a sync a streamer is due again. */
    intervalSeconds: number;
    /** How often each instance looks for due streamers. */
    pollSeconds: number;
    /** Streamers one instance syncs at once. */
    concurrency: number;
    /** Bound on one request to a wishlist source. */
    timeoutMs: number;
    /** Further tries after a failed request, with backoff. */
    retries: number;
    /** How long a claim lasts; a crashed instance's streamers are free again after it. */
    leaseSeconds: number;
  };
  /** Bounds checked before any resolver runs, on HTTP and WebSocket alike (QUERY_TOO_COMPLEX). */
  limits: {
    depth: number;
    aliases: number;
    directives: number;
    tokens: number;
    /** Each field costs 1, times the `first` of every list above it (capped at 100). */
    cost: number;
  };
  /** Schema introspection; off in production unless GRAPHQL_INTROSPECTION=true. */
  introspection: boolean;
  /** Largest request body accepted (413 above). */
  maxBodyBytes: number;
  rateLimit: { enabled: boolean; queriesPerMinute: number; mutationsPerMinute: number };
  /** Automatic persisted queries (Apollo's protocol), cached in Redis when configured. */
  persistedQueries: boolean;
  /** Statements slower than this are logged with their duration. */
  slowStatementMs: number;
  /** After SIGTERM: how long in-flight work may take before the process exits anyway. */
  shutdownTimeoutSeconds: number;
  outbox: {
    /** Delivery loops per instance (0: this instance delivers nothing). */
    workers: number;
    /** Rows one loop claims at a time. */
    batchSize: number;
    /** Deliveries one loop has in flight at once. */
    concurrency: number;
    /** Attempts before a row goes to dead-letter. */
    maxAttempts: number;
    retryBaseMs: number;
    retryMaxMs: number;
    /** How long a claim lasts; a crashed worker's rows are delivered by another after it. */
    leaseSeconds: number;
    /** How often an idle loop looks for due rows (producers also wake it). */
    pollMs: number;
    webhookTimeoutMs: number;
  };
}

/**
 * Parses the environment once. Nothing else in the program reads `process.env`;
 * components take the resulting object (or a part of it) as an argument.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && e.DATABASE_URL && !e.REDIS_URL && !e.SINGLE_INSTANCE) {
    throw new Error(
      'Invalid configuration: DATABASE_URL without REDIS_URL in production — several instances would not see each ' +
        "other's changes (live updates, caches, rate limits stay in one process). Set REDIS_URL, or SINGLE_INSTANCE=true if this is the only instance",
    );
  }
  if (e.NODE_ENV === 'production' && !e.JWT_SECRET) {
    throw new Error('Invalid configuration: JWT_SECRET is required when NODE_ENV=production');
  }
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL,
    database: e.DATABASE_URL
      ? {
          kind: 'postgres',
          url: e.DATABASE_URL,
          poolMax: e.DB_POOL_MAX,
          statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
          connectTimeoutS: e.DB_CONNECT_TIMEOUT_S,
          poolWaitTimeoutMs: e.DB_POOL_WAIT_TIMEOUT_MS,
        }
      : { kind: 'pglite', dataDir: `${e.DATA_DIR}/pglite` },
    redis: e.REDIS_URL
      ? { url: e.REDIS_URL, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS, keyPrefix: e.REDIS_KEY_PREFIX }
      : undefined,
    dataDir: e.DATA_DIR,
    jwtSecret: e.JWT_SECRET,
    seedDemoData: e.SEED_DEMO_DATA ?? e.NODE_ENV !== 'production',
    bookings: { holdTtlSeconds: e.HOLD_TTL_SECONDS, sweepIntervalSeconds: e.HOLD_SWEEP_INTERVAL_SECONDS },
    nightReportIntervalSeconds: e.NIGHT_REPORT_INTERVAL_SECONDS,
    responseCache: e.RESPONSE_CACHE,
    votePushIntervalMs: e.VOTE_PUSH_INTERVAL_MS,
    voteResultsCache: e.VOTE_RESULTS_CACHE,
    nightReportCache: e.NIGHT_REPORT_CACHE,
    allowedOrigins: e.ALLOWED_ORIGINS,
    sqlStatsInExtensions: e.SQL_STATS_IN_EXTENSIONS ?? e.NODE_ENV !== 'production',
    loaderBatching: e.LOADER_BATCHING,
    logLevel: e.LOG_LEVEL,
    limits: {
      depth: e.QUERY_MAX_DEPTH,
      aliases: e.QUERY_MAX_ALIASES,
      directives: e.QUERY_MAX_DIRECTIVES,
      tokens: e.QUERY_MAX_TOKENS,
      cost: e.QUERY_MAX_COST,
    },
    introspection: e.GRAPHQL_INTROSPECTION ?? e.NODE_ENV !== 'production',
    maxBodyBytes: e.REQUEST_MAX_BYTES,
    rateLimit: {
      enabled: e.RATE_LIMIT_ENABLED,
      queriesPerMinute: e.RATE_LIMIT_QUERIES_PER_MINUTE,
      mutationsPerMinute: e.RATE_LIMIT_MUTATIONS_PER_MINUTE,
    },
    persistedQueries: e.PERSISTED_QUERIES,
    slowStatementMs: e.SLOW_STATEMENT_MS,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    wishlistSync: {
      enabled: e.WISHLIST_SYNC_ENABLED,
      intervalSeconds: e.WISHLIST_SYNC_INTERVAL_SECONDS,
      pollSeconds: e.WISHLIST_SYNC_POLL_SECONDS,
      concurrency: e.WISHLIST_SYNC_CONCURRENCY,
      timeoutMs: e.WISHLIST_SYNC_TIMEOUT_MS,
      retries: e.WISHLIST_SYNC_RETRIES,
      leaseSeconds: e.WISHLIST_SYNC_LEASE_SECONDS,
    },
    outbox: {
      workers: e.OUTBOX_WORKERS,
      batchSize: e.OUTBOX_BATCH_SIZE,
      concurrency: e.OUTBOX_CONCURRENCY,
      maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
      retryBaseMs: e.OUTBOX_RETRY_BASE_MS,
      retryMaxMs: e.OUTBOX_RETRY_MAX_MS,
      leaseSeconds: e.OUTBOX_LEASE_SECONDS,
      pollMs: e.OUTBOX_POLL_MS,
      webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
  };
}
