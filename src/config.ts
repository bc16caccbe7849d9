import { z } from 'zod';

/** One environment variable: how its value is read, what unset means, and what it does. */
interface Setting<S extends z.ZodType = z.ZodType> {
  /** Parses the variable's value (`undefined` when it is unset). */
  readonly schema: S;
  /** What unset means, as the configuration table in docs/operations.md shows it. */
  readonly default: string;
  /** What the variable does, as the configuration table in docs/operations.md shows it. */
  readonly meaning: string;
}

/** A variable read as `value` when unset; the default goes through the same parsing as a value that is set. */
function setting<S extends z.ZodType>(schema: S, value: z.input<S> & (string | number), meaning: string): Setting<z.ZodPrefault<S>> {
  return { schema: schema.prefault(value), default: `\`${value}\``, meaning };
}

/** A variable that may stay unset; `unset` says what the program does then. */
function optional<S extends z.ZodType>(schema: S, unset: string, meaning: string): Setting<z.ZodOptional<S>> {
  return { schema: schema.optional(), default: unset, meaning };
}

const flag = z
  .enum(['true', 'false', '1', '0', 'on', 'off'])
  .transform((v) => v === 'true' || v === '1' || v === 'on');
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
const positive = z.coerce.number().positive();
const nonNegative = z.coerce.number().min(0);
const nonEmpty = z.string().min(1);
const inProduction = '`true`, `false` in production';

/**
 * Every environment variable the server reads, each declared once. The environment
 * schema is derived from this table, and test/config.test.ts holds the configuration
 * table in docs/operations.md to it (same variables, defaults and meanings).
 */
export const settings = {
  PORT: setting(z.coerce.number().int().min(0).max(65535), 4000, 'HTTP and WebSocket port'),
  WEB_CONCURRENCY: setting(
    positiveInt,
    1,
    'server processes on this host, sharing `PORT` (node:cluster); above 1 only with `DATABASE_URL` and `REDIS_URL`',
  ),
  HOST: setting(z.string(), '0.0.0.0', 'interface to listen on'),
  PUBLIC_URL: optional(z.url(), '`http://localhost:<port>`', 'base URL printed at start'),
  NODE_ENV: setting(
    z.enum(['development', 'test', 'production']),
    'development',
    '`production` hides Sandbox, introspection, demo tokens and SQL stats in responses, and requires `JWT_SECRET` or an identity provider',
  ),
  DATABASE_URL: optional(nonEmpty, '—', 'PostgreSQL URL; unset means embedded PGlite under `DATA_DIR`'),
  DB_POOL_MAX: setting(positiveInt, 10, 'postgres.js pool size'),
  DB_STATEMENT_TIMEOUT_MS: setting(positiveInt, 5000, '`statement_timeout` of every connection'),
  DB_CONNECT_TIMEOUT_S: setting(positiveInt, 5, 'give up connecting after this long'),
  DB_POOL_WAIT_TIMEOUT_MS: setting(positiveInt, 2_000, 'a statement waiting this long for a pooled connection fails with a clear error'),
  SLOW_STATEMENT_MS: setting(positiveInt, 200, 'statements slower than this are logged with their duration'),
  REDIS_URL: optional(nonEmpty, '—', 'Redis URL for pub/sub and the shared cache; unset means in-process'),
  REDIS_COMMAND_TIMEOUT_MS: setting(positiveInt, 500, 'a Redis command that takes longer fails (the cache then reads PostgreSQL)'),
  REDIS_KEY_PREFIX: setting(z.string(), 'nightgraph:', 'prefix of every Redis key and channel'),
  DATA_DIR: setting(z.string(), './.data', 'embedded database and generated secret'),
  JWT_SECRET: optional(
    z.string().min(32, 'JWT_SECRET must be at least 32 characters'),
    'generated into `DATA_DIR/jwt-secret` (with a warning)',
    'HS256 key for bearer tokens, 32+ characters',
  ),
  JWT_JWKS_URL: optional(
    z.url(),
    '—',
    "an identity provider's JSON Web Key Set: tokens signed with its keys (RS256, ES256, EdDSA…) are accepted, and none signed with `JWT_SECRET`",
  ),
  JWT_OIDC_ISSUER: optional(
    z.url(),
    '—',
    "an OpenID Connect issuer: its discovery document names the key set (as `JWT_JWKS_URL` would) and the issuer tokens must carry",
  ),
  JWT_ISSUER: optional(
    nonEmpty,
    '`nightgraph` with `JWT_SECRET`; the discovered one with `JWT_OIDC_ISSUER`; unchecked with `JWT_JWKS_URL` alone',
    'the `iss` every token must carry',
  ),
  JWT_AUDIENCE: optional(
    z.string().transform((v) => v.split(',').map((a) => a.trim()).filter(Boolean)),
    'unchecked',
    'comma-separated: a token must name one of these in `aud`',
  ),
  JWT_ROLES_CLAIM: setting(nonEmpty, 'roles', 'dot path of the roles claim (`realm_access.roles`); roles other than guest, host, manager and admin count for nothing, and a token without any is a guest\'s'),
  JWT_CLUB_IDS_CLAIM: setting(nonEmpty, 'clubIds', 'dot path of the claim listing the clubs a host or manager works at'),
  JWT_JWKS_COOLDOWN_SECONDS: setting(
    nonNegative,
    30,
    "after fetching the provider's keys, a token naming an unknown `kid` waits this long before they are fetched again",
  ),
  JWT_JWKS_MAX_AGE_SECONDS: setting(positive, 600, "the provider's keys are fetched again when they are this old"),
  SEED_DEMO_DATA: optional(
    flag,
    inProduction,
    'load demo data into an empty database on start (through the services, once however many instances start together)',
  ),
  SINGLE_INSTANCE: setting(
    flag,
    'false',
    "in production, `DATABASE_URL` without `REDIS_URL` is refused at start (several instances would not see each other's changes) unless this says it is the only one",
  ),
  HOLD_TTL_SECONDS: setting(positiveInt, 600, 'how long a hold keeps a table'),
  HOLD_SWEEP_INTERVAL_SECONDS: setting(positive, 5, 'how often every instance releases expired holds'),
  NIGHT_REPORT_INTERVAL_SECONDS: setting(
    positive,
    60,
    'how often every instance looks for nights that are over to write their final report (each is claimed and written once)',
  ),
  RESPONSE_CACHE: setting(flag, 'true', 'serve repeated availability reads from bytes cached per snapshot version'),
  VOTE_PUSH_INTERVAL_MS: setting(nonNegativeInt, 250, 'at most one live vote-results push per session per this many ms'),
  VOTE_RESULTS_CACHE: setting(flag, 'true', 'serve vote results from the shared cache (`false` only to measure without it)'),
  NIGHT_REPORT_CACHE: setting(flag, 'true', 'serve live night reports from the shared cache (`false` only to measure without it)'),
  ALLOWED_ORIGINS: optional(
    z.string().transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean)),
    '—',
    "comma-separated browser origins, besides the server's own, allowed to open a WebSocket",
  ),
  SQL_STATS_IN_EXTENSIONS: optional(flag, inProduction, "return each response's SQL statement count and time in `extensions.sql`"),
  LOADER_BATCHING: setting(flag, 'true', '`false` loads per parent instead of per batch: only for the benchmark comparison'),
  LOG_LEVEL: setting(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info', 'pino level (`silent` to mute)'),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(
    z.url(),
    'no traces',
    'OpenTelemetry collector (OTLP/HTTP): traces are sent to `<endpoint>/v1/traces`',
  ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(z.url(), '`OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`', 'the full URL traces are sent to, if not the standard path'),
  OTEL_SERVICE_NAME: setting(nonEmpty, 'nightgraph', "`service.name` of this instance's traces"),
  WISHLIST_SYNC_ENABLED: setting(flag, 'true', '`false`: this instance never syncs on its own (`syncStreamer` still works)'),
  WISHLIST_SYNC_INTERVAL_SECONDS: setting(positive, 300, 'a streamer is due again this long after its last sync'),
  WISHLIST_SYNC_POLL_SECONDS: setting(positive, 5, 'how often each instance claims due streamers'),
  WISHLIST_SYNC_CONCURRENCY: setting(positiveInt, 4, 'syncs in flight per instance'),
  WISHLIST_SYNC_TIMEOUT_MS: setting(positiveInt, 10_000, 'bound on one request to a wishlist source'),
  WISHLIST_SYNC_RETRIES: setting(nonNegativeInt, 2, 'further tries after a network error, timeout, 429 or 5xx'),
  WISHLIST_SYNC_LEASE_SECONDS: setting(
    positive,
    60,
    "how long a claim lasts; after it, another instance may sync the streamer and the holder's writes are refused",
  ),
  OUTBOX_WORKERS: setting(nonNegativeInt, 2, 'delivery loops per instance (`0`: this instance delivers nothing)'),
  OUTBOX_BATCH_SIZE: setting(positiveInt, 100, 'rows one loop claims at a time'),
  OUTBOX_CONCURRENCY: setting(positiveInt, 32, 'deliveries in flight per loop'),
  OUTBOX_MAX_ATTEMPTS: setting(positiveInt, 10, 'attempts before a row goes to dead-letter'),
  OUTBOX_RETRY_BASE_MS: setting(positiveInt, 1_000, 'backoff after the first failure, doubling per attempt (half to all of it, at random)'),
  OUTBOX_RETRY_MAX_MS: setting(positiveInt, 3_600_000, 'the most that backoff grows to'),
  OUTBOX_LEASE_SECONDS: setting(positive, 60, "how long a claimed row is held; a crashed worker's rows are delivered by another after it"),
  OUTBOX_POLL_MS: setting(
    positiveInt,
    1_000,
    "how often an idle loop looks for due rows (commits that write rows also wake every instance's loops)",
  ),
  WEBHOOK_TIMEOUT_MS: setting(positiveInt, 5_000, 'bound on one webhook POST'),
  TELEGRAM_BOT_TOKEN: optional(
    z.string().regex(/^\d+:[A-Za-z0-9_-]+$/, 'TELEGRAM_BOT_TOKEN is the token @BotFather gave, <bot id>:<secret>'),
    'Telegram off',
    'the bot that sends notifications to linked chats (with `TELEGRAM_BOT_USERNAME` and `TELEGRAM_WEBHOOK_SECRET`)',
  ),
  TELEGRAM_BOT_USERNAME: optional(z.string().regex(/^\w{5,64}$/, 'TELEGRAM_BOT_USERNAME is the bot\'s @name without the @'), '—', "the bot's username, for `https://t.me/<bot>?start=…` links"),
  TELEGRAM_WEBHOOK_SECRET: optional(
    z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, 'TELEGRAM_WEBHOOK_SECRET is 16–256 of A-Z a-z 0-9 _ -'),
    '—',
    "the `secret_token` given to `setWebhook`: `POST /telegram/webhook` takes only requests whose `X-Telegram-Bot-Api-Secret-Token` carries it",
  ),
  TELEGRAM_API_URL: setting(z.url(), 'https://api.telegram.org', 'the Bot API server'),
  TELEGRAM_MAX_PER_SECOND: setting(positive, 30, 'messages per second the bot sends across all chats and instances (and 1 per second per chat)'),
  TELEGRAM_TIMEOUT_MS: setting(positiveInt, 10_000, 'bound on one Bot API call'),
  GRAPHQL_INTROSPECTION: optional(flag, inProduction, 'schema introspection, on HTTP and WebSocket alike'),
  QUERY_MAX_DEPTH: setting(positiveInt, 10, 'deepest selection allowed'),
  QUERY_MAX_ALIASES: setting(nonNegativeInt, 15, 'aliases per document'),
  QUERY_MAX_DIRECTIVES: setting(nonNegativeInt, 10, 'directives per document'),
  QUERY_MAX_TOKENS: setting(positiveInt, 2_000, 'the parser stops past this many tokens'),
  QUERY_MAX_COST: setting(
    positiveInt,
    10_000,
    'each field costs 1, times the `first` (at most 100, 20 when left out) of every page above it',
  ),
  REQUEST_MAX_BYTES: setting(positiveInt, 1024 * 1024, 'larger request bodies get 413'),
  RATE_LIMIT_ENABLED: setting(flag, 'true', 'per-minute budgets per user (per address when anonymous), in Redis when configured'),
  RATE_LIMIT_QUERIES_PER_MINUTE: setting(positiveInt, 600, 'queries and subscriptions (cached answers included)'),
  RATE_LIMIT_MUTATIONS_PER_MINUTE: setting(positiveInt, 120, 'mutations'),
  PERSISTED_QUERIES: setting(
    flag,
    'true',
    "automatic persisted queries (Apollo's protocol); the hashes live in Redis when configured",
  ),
  TRUSTED_DOCUMENTS: setting(
    z.enum(['off', 'log', 'enforce']),
    'off',
    '`enforce` runs only the documents of the manifest, named by id, and refuses any other before parsing it (recommended in production); `log` runs any, counting and logging those not in it; `off` reads no manifest',
  ),
  TRUSTED_DOCUMENTS_FILE: setting(
    nonEmpty,
    'src/__generated__/client/persisted-documents.json',
    'the persisted-documents manifest (document id → text, as `npm run codegen` writes it) that `log` and `enforce` read at start',
  ),
  MEDIA_DIR: setting(nonEmpty, './.data/media', "where songs' audio files are kept when `S3_BUCKET` is unset"),
  MEDIA_MAX_BYTES: setting(positiveInt.max(2 ** 31 - 1), 50 * 1024 * 1024, 'largest audio file accepted; an upload is refused with 413 as soon as it streams past this (or past its ticket\'s size)'),
  MEDIA_UPLOAD_TICKET_SECONDS: setting(positiveInt, 900, 'how long an upload URL from `requestSongUpload` may be used (once)'),
  MEDIA_URL_SECONDS: setting(positiveInt, 3600, "how long a signed playback URL (`Song.audio.url` of a song not on offer in a vote session) plays"),
  S3_BUCKET: optional(nonEmpty, 'files under `MEDIA_DIR`', 'keep audio files in this S3 bucket (or an S3-compatible store) instead of `MEDIA_DIR`'),
  S3_ENDPOINT: optional(z.url(), "AWS's endpoint for `S3_REGION`", 'an S3-compatible server (MinIO, R2, Ceph…)'),
  S3_REGION: setting(nonEmpty, 'us-east-1', 'the bucket\'s region'),
  S3_ACCESS_KEY_ID: optional(nonEmpty, "the AWS SDK's default credentials (environment, profile, instance role)", 'access key for `S3_BUCKET`, with `S3_SECRET_ACCESS_KEY`'),
  S3_SECRET_ACCESS_KEY: optional(nonEmpty, '—', 'secret key for `S3_ACCESS_KEY_ID`'),
  S3_FORCE_PATH_STYLE: setting(flag, 'false', '`true`: address the bucket as `<endpoint>/<bucket>` instead of `<bucket>.<endpoint>` (most self-hosted S3-compatible servers)'),
  MIGRATE_ON_START: setting(
    flag,
    'true',
    'apply pending migrations before serving; `false` when a one-shot `npm run migrate` (or `node dist/cli/migrate.js`) does it, and the server then refuses to start on an older schema',
  ),
  SHUTDOWN_TIMEOUT_SECONDS: setting(positive, 10, 'after SIGTERM, the most the drain may take before the process exits anyway'),
} satisfies Record<string, Setting>;

type Settings = typeof settings;

const envSchema = z.object(
  Object.fromEntries(Object.entries(settings).map(([name, s]) => [name, s.schema])) as {
    [K in keyof Settings]: Settings[K]['schema'];
  },
);

export type Env = z.input<typeof envSchema>;

/** The parsed environment, one property per setting. */
type ParsedEnv = z.output<typeof envSchema>;

/** Bound on one request to the identity provider (discovery or keys). */
const IDENTITY_PROVIDER_TIMEOUT_MS = 5_000;

/** Fields that other callers (benchmarks, tests) may leave out when they open a database themselves. */
const mayBeLeftOut = <T extends object>(fields: T): Partial<T> => fields;

/** The nested configuration the program takes, from the parsed environment. */
function toConfig(e: ParsedEnv) {
  const production = e.NODE_ENV === 'production';
  const postgres = (url: string) => ({
    kind: 'postgres' as const,
    url,
    poolMax: e.DB_POOL_MAX,
    statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    connectTimeoutS: e.DB_CONNECT_TIMEOUT_S,
    ...mayBeLeftOut({ poolWaitTimeoutMs: e.DB_POOL_WAIT_TIMEOUT_MS }),
  });
  /** Without a data directory PGlite keeps the database in memory. */
  const pglite = (dataDir: string | undefined) => ({ kind: 'pglite' as const, dataDir });
  const database: ReturnType<typeof postgres> | ReturnType<typeof pglite> = e.DATABASE_URL
    ? postgres(e.DATABASE_URL)
    : pglite(`${e.DATA_DIR}/pglite`);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    /** Worker processes sharing the port; 1 runs the server in this process, with no cluster primary. */
    webConcurrency: e.WEB_CONCURRENCY,
    /** Base URL printed at start-up; defaults to http://localhost:<port>. */
    publicUrl: e.PUBLIC_URL,
    database,
    redis: e.REDIS_URL
      ? { url: e.REDIS_URL, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS, keyPrefix: e.REDIS_KEY_PREFIX }
      : undefined,
    dataDir: e.DATA_DIR,
    /** Undefined in embedded mode until `resolveJwtSecret` reads or creates one under dataDir. */
    jwtSecret: e.JWT_SECRET,
    /** Where bearer tokens' keys come from when an identity provider signs them; undefined: `jwtSecret`. */
    identityProvider:
      e.JWT_JWKS_URL || e.JWT_OIDC_ISSUER
        ? {
            jwksUrl: e.JWT_JWKS_URL,
            oidcIssuer: e.JWT_OIDC_ISSUER,
            cooldownMs: e.JWT_JWKS_COOLDOWN_SECONDS * 1000,
            cacheMaxAgeMs: e.JWT_JWKS_MAX_AGE_SECONDS * 1000,
            timeoutMs: IDENTITY_PROVIDER_TIMEOUT_MS,
          }
        : undefined,
    tokenClaims: {
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE ?? [],
      rolesClaim: e.JWT_ROLES_CLAIM,
      clubIdsClaim: e.JWT_CLUB_IDS_CLAIM,
    },
    seedDemoData: e.SEED_DEMO_DATA ?? !production,
    bookings: { holdTtlSeconds: e.HOLD_TTL_SECONDS, sweepIntervalSeconds: e.HOLD_SWEEP_INTERVAL_SECONDS },
    nightReportIntervalSeconds: e.NIGHT_REPORT_INTERVAL_SECONDS,
    votePushIntervalMs: e.VOTE_PUSH_INTERVAL_MS,
    voteResultsCache: e.VOTE_RESULTS_CACHE,
    nightReportCache: e.NIGHT_REPORT_CACHE,
    responseCache: e.RESPONSE_CACHE,
    allowedOrigins: e.ALLOWED_ORIGINS ?? [],
    sqlStatsInExtensions: e.SQL_STATS_IN_EXTENSIONS ?? !production,
    loaderBatching: e.LOADER_BATCHING,
    logLevel: e.LOG_LEVEL as string,
    /** OpenTelemetry: off unless an OTLP endpoint is named (the standard variables, see platform/tracing.ts). */
    tracing: {
      tracesUrl: e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (e.OTEL_EXPORTER_OTLP_ENDPOINT ? `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : undefined),
      serviceName: e.OTEL_SERVICE_NAME,
    },
    wishlistSync: {
      enabled: e.WISHLIST_SYNC_ENABLED,
      intervalSeconds: e.WISHLIST_SYNC_INTERVAL_SECONDS,
      pollSeconds: e.WISHLIST_SYNC_POLL_SECONDS,
      concurrency: e.WISHLIST_SYNC_CONCURRENCY,
      timeoutMs: e.WISHLIST_SYNC_TIMEOUT_MS,
      retries: e.WISHLIST_SYNC_RETRIES,
      leaseSeconds: e.WISHLIST_SYNC_LEASE_SECONDS,
    },
    /** Bounds checked before any resolver runs, on HTTP and WebSocket alike (QUERY_TOO_COMPLEX). */
    limits: {
      depth: e.QUERY_MAX_DEPTH,
      aliases: e.QUERY_MAX_ALIASES,
      directives: e.QUERY_MAX_DIRECTIVES,
      tokens: e.QUERY_MAX_TOKENS,
      cost: e.QUERY_MAX_COST,
    },
    introspection: e.GRAPHQL_INTROSPECTION ?? !production,
    maxBodyBytes: e.REQUEST_MAX_BYTES,
    rateLimit: {
      enabled: e.RATE_LIMIT_ENABLED,
      queriesPerMinute: e.RATE_LIMIT_QUERIES_PER_MINUTE,
      mutationsPerMinute: e.RATE_LIMIT_MUTATIONS_PER_MINUTE,
    },
    persistedQueries: e.PERSISTED_QUERIES,
    /** Which documents run (trusted-documents.ts); the manifest is read only when the mode is not `off`. */
    trustedDocuments: { mode: e.TRUSTED_DOCUMENTS, file: e.TRUSTED_DOCUMENTS_FILE },
    slowStatementMs: e.SLOW_STATEMENT_MS,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    migrateOnStart: e.MIGRATE_ON_START,
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
    /** Songs' audio: where files are kept, and the bounds of uploads and signed URLs. */
    media: {
      maxBytes: e.MEDIA_MAX_BYTES,
      uploadTicketSeconds: e.MEDIA_UPLOAD_TICKET_SECONDS,
      urlSeconds: e.MEDIA_URL_SECONDS,
      storage: e.S3_BUCKET
        ? {
            kind: 's3' as const,
            bucket: e.S3_BUCKET,
            endpoint: e.S3_ENDPOINT,
            region: e.S3_REGION,
            credentials:
              e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY } : undefined,
            forcePathStyle: e.S3_FORCE_PATH_STYLE,
          }
        : { kind: 'fs' as const, dir: e.MEDIA_DIR },
    },
    /** The Telegram channel; undefined (off) unless the bot's token, username and webhook secret are all set. */
    telegram:
      e.TELEGRAM_BOT_TOKEN && e.TELEGRAM_BOT_USERNAME && e.TELEGRAM_WEBHOOK_SECRET
        ? {
            token: e.TELEGRAM_BOT_TOKEN,
            botId: e.TELEGRAM_BOT_TOKEN.split(':')[0]!,
            username: e.TELEGRAM_BOT_USERNAME,
            webhookSecret: e.TELEGRAM_WEBHOOK_SECRET,
            apiUrl: e.TELEGRAM_API_URL,
            maxPerSecond: e.TELEGRAM_MAX_PER_SECOND,
            timeoutMs: e.TELEGRAM_TIMEOUT_MS,
          }
        : undefined,
  };
}

/** The settings as the program takes them; what each means is in `settings`, under the variable it comes from. */
export interface Config extends ReturnType<typeof toConfig> {}

/**
 * Parses the environment once. Nothing else in the program reads `process.env`;
 * components take the resulting object (or a part of it) as an argument.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const e = parseEnv(env);
  if (e.NODE_ENV === 'production' && e.DATABASE_URL && !e.REDIS_URL && !e.SINGLE_INSTANCE) {
    throw new Error(
      'Invalid configuration: DATABASE_URL without REDIS_URL in production — several instances would not see each ' +
        "other's changes (live updates, caches, rate limits stay in one process). Set REDIS_URL, or SINGLE_INSTANCE=true if this is the only instance",
    );
  }
  const telegram = [e.TELEGRAM_BOT_TOKEN, e.TELEGRAM_BOT_USERNAME, e.TELEGRAM_WEBHOOK_SECRET].filter(Boolean).length;
  if (telegram > 0 && telegram < 3) {
    throw new Error('Invalid configuration: Telegram needs TELEGRAM_BOT_TOKEN, TELEGRAM_BOT_USERNAME and TELEGRAM_WEBHOOK_SECRET together (or none of them)');
  }
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) {
    throw new Error('Invalid configuration: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together (or leave both unset for the AWS SDK\'s default credentials)');
  }
  if (e.WEB_CONCURRENCY > 1 && (!e.DATABASE_URL || !e.REDIS_URL)) {
    const missing = [!e.DATABASE_URL && 'DATABASE_URL', !e.REDIS_URL && 'REDIS_URL'].filter(Boolean).join(' and ');
    throw new Error(
      `Invalid configuration: WEB_CONCURRENCY=${e.WEB_CONCURRENCY} needs DATABASE_URL and REDIS_URL, and ${missing} ${missing.includes(' and ') ? 'are' : 'is'} not set — ` +
        'the embedded database (PGlite) is a file only one process may open, and in-process pub/sub would not carry one ' +
        "worker's changes to another worker's subscribers. Set both, or leave WEB_CONCURRENCY unset (one process)",
    );
  }
  if (e.NODE_ENV === 'production' && !e.JWT_SECRET && !e.JWT_JWKS_URL && !e.JWT_OIDC_ISSUER) {
    throw new Error('Invalid configuration: JWT_SECRET is required when NODE_ENV=production, unless an identity provider signs the tokens (JWT_JWKS_URL or JWT_OIDC_ISSUER)');
  }
  return toConfig(e);
}

/**
 * The database settings alone, for a step that only migrates (`npm run migrate`): every
 * variable is parsed as for the server, but what only a serving instance needs (a JWT
 * secret in production, Redis beside PostgreSQL) is not asked for.
 */
export function loadDatabaseConfig(env: Record<string, string | undefined> = process.env): Pick<Config, 'database' | 'logLevel'> {
  const { database, logLevel } = toConfig(parseEnv(env));
  return { database, logLevel };
}

function parseEnv(env: Record<string, string | undefined>): ParsedEnv {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return parsed.data;
}
