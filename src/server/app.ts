import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { openDatabase, type Database, type DatabaseHandle } from '../db/client.js';
import { migrate, pendingMigrations } from '../db/migrate.js';
import { seedDemoData } from '../modules/demo/seed.js';
import type { Context } from '../graphql/context.js';
import { buildSchema } from '../graphql/schema.js';
import { createLoaders, type Loaders } from '../modules/loaders.js';
import { currentUserOnce } from '../modules/users/service.js';
import { createTokenService, resolveJwtSecret, type TokenService } from '../platform/tokens.js';
import { createLogger, type Logger } from '../platform/logger.js';
import type { PubSub } from '../platform/pubsub.js';
import { SnapshotFeed } from '../platform/snapshot-feed.js';
import { createVoteResultsStore } from '../modules/voting/results-store.js';
import { createAvailability, type Availability } from '../modules/clubs/availability.js';
import { startHoldExpiry } from '../modules/bookings/expiry.js';
import { createNotificationHub } from '../modules/notifications/hub.js';
import { outboxStats, startOutboxWorkers } from '../modules/notifications/worker.js';
import { startWishlistScheduler } from '../modules/streamers/sync.js';
import { newSqlStats, watchSlowStatements } from '../platform/sql-stats.js';
import type { Viewer } from '../platform/auth.js';
import type { Scope } from '../modules/scope.js';
import { createApollo } from './apollo.js';
import { redisKeyValueCache } from '../platform/apq-cache.js';
import { createRateLimiter } from '../platform/rate-limit.js';
import { createResponseCache } from './response-cache.js';
import { attachSubscriptions } from './subscriptions.js';
import { createSubscriptionOperations } from './subscription-operations.js';
import { createEventStreams } from './event-stream.js';
import { createMultipartSubscriptions } from './multipart-subscriptions.js';
import { createHallRoutes } from './hall-routes.js';
import { createGraphQLHandler } from './graphql-http.js';
import { createMetrics, type MetricsExposition } from './metrics.js';
import { createTrustedDocuments, readManifest } from './trusted-documents.js';
import { createRequestListener } from './routes.js';
import { openSharedState } from './shared-state.js';
import { shutDown, type Cleanup } from './shutdown.js';
import { startFinalReports } from '../modules/reports/final.js';
import { mayReadReports } from '../modules/reports/service.js';
import { createMemberships } from '../modules/staff/memberships.js';
import { createNightReports, FINAL_REPORT_KEY } from '../modules/reports/store.js';
import { createBotApi } from '../modules/telegram/bot-api.js';
import { createTelegramChannel } from '../modules/telegram/channel.js';
import { markBlocked } from '../modules/telegram/service.js';
import { createTelegramWebhook } from './telegram-webhook.js';
import { openMediaStorage } from '../platform/media-storage.js';
import { createMediaSigner } from '../modules/music/signing.js';
import type { MediaServices } from '../modules/music/media.js';
import { createMediaRoutes } from './media-routes.js';
import { createSongUploadRoute } from './song-upload.js';
import { createSongPlaybackRoute } from './song-playback.js';

const LIVE_RECONCILE_MS = 5_000;

export interface AppDeps {
  logger?: Logger;
  /**
   * What `/metrics` answers, given this app's registry: by default that registry; in a
   * WEB_CONCURRENCY worker, every worker's on the host (`exposeHostMetrics`).
   */
  exposeMetrics?: (registry: Registry) => MetricsExposition;
}

/** A running server and the parts tests and tools reach into. */
export interface RunningApp {
  url: string;
  port: number;
  db: Database;
  dbKind: DatabaseHandle['kind'];
  tokens: TokenService;
  pubsub: PubSub;
  availability: Availability;
  /** A service scope for this caller, as a request would get it. */
  scopeFor(viewer: Viewer): Scope;
  /** Whether demo data was loaded on this start. */
  seeded: boolean;
}

export interface App {
  /** Opens the database (applying migrations), Redis if configured, and listens. */
  start(): Promise<RunningApp>;
  /**
   * Stops accepting requests, drains the ones in flight, closes WebSockets (1001), stops
   * background work, then closes Redis and the database, within SHUTDOWN_TIMEOUT_SECONDS;
   * rejects if something had to be cut off. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
}

export function createApp(config: Config, deps: AppDeps = {}): App {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const cleanups: Cleanup[] = [];
  let httpServer: Server | undefined;
  /** Every transport's live operations: WebSockets, event streams and multipart responses. */
  let streams: { activeSubscriptions(): number; close(): Promise<void> } | undefined;
  /** Set once `stop` begins: readiness says so, and no connection is kept alive. */
  let stopping: Promise<void> | undefined;

  return {
    async start() {
      const metrics = createMetrics();
      cleanups.push(metrics.close);
      // Read before anything opens: a missing or altered manifest stops the start, saying which.
      const { mode: trustedMode, file: manifestFile } = config.trustedDocuments;
      const trusted =
        trustedMode === 'off' ? undefined : createTrustedDocuments({ mode: trustedMode, manifest: readManifest(manifestFile), metrics, logger });

      const handle = await openDatabase(config.database, { logger });
      cleanups.push(() => handle.close());
      if (config.migrateOnStart) {
        await migrate(handle);
      } else {
        const pending = await pendingMigrations(handle);
        if (pending > 0) {
          throw new Error(`The database is ${pending} migration(s) behind this server: run \`npm run migrate\` (node dist/cli/migrate.js) first, or start with MIGRATE_ON_START=true`);
        }
      }

      const { pubsub: sharedPubSub, store: sharedStore, cache, pacer, redisClients, redisHealth, closeRedis } = await openSharedState(config, logger, (operation) =>
        metrics.redisErrors.inc({ operation }),
      );
      // Counted for /metrics: pub/sub messages, and snapshot reads as cache hits and misses.
      const pubsub = metrics.countPubSub(sharedPubSub);
      const store = metrics.countSnapshotStore(sharedStore);
      cleanups.push(() => pubsub.close(), closeRedis);
      const availability = createAvailability(handle.db, store, pubsub, (error) =>
        logger.warn({ err: error }, 'could not announce an availability change'),
      );
      const availabilityFeed = new SnapshotFeed(availability, (error) =>
        logger.warn({ err: error }, 'could not refresh a live availability snapshot'),
      );
      const holdExpiry = startHoldExpiry(handle.db, availability, config.bookings.sweepIntervalSeconds, (error) =>
        logger.warn({ err: error }, 'hold expiry sweep failed'),
      );
      cleanups.push(() => holdExpiry.stop());
      // Catches up on announcements lost in transit (a Redis reconnect, a failed publish).
      const voteResults = createVoteResultsStore(
        handle.db,
        store,
        pubsub,
        (error) => logger.warn({ err: error }, 'could not refresh vote results'),
        config.voteResultsCache,
      );
      const reports = createNightReports(
        handle.db,
        cache,
        store,
        availability,
        (sessionIds) => voteResults.load(sessionIds),
        (error) => logger.warn({ err: error }, 'could not mark night reports as changed'),
        config.nightReportCache,
      );
      const finalReports = startFinalReports(handle.db, reports, config.nightReportIntervalSeconds, (error) =>
        logger.warn({ err: error }, 'writing final night reports failed'),
      );
      cleanups.push(() => finalReports.stop());
      const voteResultsFeed = new SnapshotFeed(
        voteResults,
        (error) => logger.warn({ err: error }, 'could not refresh live vote results'),
        config.votePushIntervalMs,
      );
      const reconcile = setInterval(() => {
        availabilityFeed.reconcile();
        voteResultsFeed.reconcile();
      }, LIVE_RECONCILE_MS);
      reconcile.unref();
      cleanups.push(() => clearInterval(reconcile));

      const notifications = createNotificationHub(pubsub, (error) => logger.warn({ err: error }, 'could not wake outbox workers'));
      const telegram = config.telegram
        ? createTelegramChannel({
            api: createBotApi({ apiUrl: config.telegram.apiUrl, token: config.telegram.token, timeoutMs: config.telegram.timeoutMs }),
            botId: config.telegram.botId,
            botUsername: config.telegram.username,
            maxPerSecond: config.telegram.maxPerSecond,
            pacer,
            metrics: metrics.telegram,
          })
        : undefined;
      if (telegram) metrics.watchTelegramPause(() => telegram.pausedFor());
      if (config.outbox.workers > 0) {
        const workers = startOutboxWorkers(
          {
            db: handle.db,
            pubsub,
            settings: config.outbox,
            metrics: metrics.outbox,
            campaignsDelivered: (clubIds) => reports.changed(clubIds),
            telegram: telegram && { channel: telegram, blocked: (userId, chatId) => markBlocked(handle.db, userId, chatId) },
          },
          (error) => logger.warn({ err: error }, 'outbox delivery failed'),
        );
        cleanups.push(() => workers.stop());
      }
      metrics.watchOutbox(() => outboxStats(handle.db));
      metrics.watchPool(() => handle.poolStats());
      cleanups.push(watchSlowStatements(config.slowStatementMs, (slow) => logger.warn(slow, 'slow SQL statement')));
      if (config.wishlistSync.enabled) {
        const scheduler = startWishlistScheduler(
          handle.db,
          config.wishlistSync,
          (claim, outcome) => {
            metrics.wishlistSyncs.inc({ outcome: outcome.kind.replace('-', '_') });
            if (outcome.kind === 'synced' && outcome.notified > 0) notifications.wake();
            if (outcome.kind === 'failed') logger.info({ streamerId: claim.id, error: outcome.error }, 'wishlist sync failed');
            if (outcome.kind === 'stale-lease') logger.warn({ streamerId: claim.id }, 'wishlist sync dropped: its lease ran out before the write');
          },
          (error) => logger.warn({ err: error }, 'wishlist sync failed'),
        );
        cleanups.push(() => scheduler.stop());
      }

      // Media URLs are signed with a key derived from the token secret; with an identity
      // provider and no JWT_SECRET, from the one generated under DATA_DIR (set JWT_SECRET
      // when several instances must accept each other's URLs).
      const tokenSecret = resolveJwtSecret(config.jwtSecret, config.dataDir, (message) => logger.warn(message));
      const tokens = createTokenService(
        {
          ...config.tokenClaims,
          ...(config.identityProvider ? { provider: config.identityProvider } : { secret: tokenSecret }),
        },
        {
          onFetch(document, outcome) {
            metrics.identityProviderFetches.inc({ document, outcome });
            if (outcome === 'error') logger.warn({ document }, 'the identity provider could not be read');
          },
          warn: (message) => logger.warn(message),
        },
      );
      const schema = buildSchema();
      const redisCommands = redisClients[0];
      const rateLimiter = config.rateLimit.enabled
        ? createRateLimiter(config.rateLimit, redisCommands && config.redis ? { client: redisCommands, prefix: config.redis.keyPrefix } : undefined, (budget) =>
            metrics.rateLimited.inc({ budget }),
          )
        : undefined;
      const { apollo, known } = createApollo(schema, config, metrics, logger, {
        rateLimiter,
        persistedQueryCache: redisCommands && config.redis ? redisKeyValueCache(redisCommands, `${config.redis.keyPrefix}apq:`) : undefined,
      });
      await apollo.start();
      cleanups.push(() => apollo.stop());

      const storage = await openMediaStorage(config.media.storage);
      cleanups.push(() => storage.close());
      /** The listening address is known only after `listen`; PUBLIC_URL, when set, is known now. */
      let origin = config.publicUrl?.replace(/\/+$/, '') ?? `http://localhost:${config.port}`;
      const media: MediaServices = {
        storage,
        signer: createMediaSigner(tokenSecret),
        maxBytes: config.media.maxBytes,
        uploadTicketSeconds: config.media.uploadTicketSeconds,
        urlSeconds: config.media.urlSeconds,
        origin: () => origin,
      };
      const loaderOptions = { batch: config.loaderBatching };
      const memberships = createMemberships(handle.db, store, (error) => logger.warn({ err: error }, 'could not mark staff memberships as changed'));
      const settings = { holdTtlSeconds: config.bookings.holdTtlSeconds, wishlistSync: config.wishlistSync };
      const contextFor = (viewer: Viewer, sqlStats = newSqlStats(), clientAddress?: string): Context => {
        let loaders: Loaders | undefined;
        return {
          db: handle.db,
          viewer,
          // Built on first use: a WebSocket subscriber served from a shared group never needs them.
          get loaders() {
            return (loaders ??= createLoaders({ db: handle.db, options: loaderOptions, availability, voteResults, memberships }));
          },
          currentUser: currentUserOnce(handle.db, viewer),
          availability,
          availabilityFeed,
          voteResults,
          memberships,
          reports,
          notifications,
          settings,
          media,
          telegram,
          sqlStats,
          availabilityVersions: new Map(),
          reportKeys: new Map(),
          clientAddress,
        };
      };
      // Through the same services as the API, so before the server listens.
      const { seeded } = config.seedDemoData ? await seedDemoData(contextFor) : { seeded: false };
      const operations = createSubscriptionOperations({
        schema,
        config,
        availabilityFeed,
        voteResultsFeed,
        logger,
        contextFor: (viewer, clientAddress) => contextFor(viewer, undefined, clientAddress),
        rateLimiter,
        trusted,
      });
      const eventStreams = createEventStreams({ tokens, operations, maxBodyBytes: config.maxBodyBytes, logger });
      const multipart = createMultipartSubscriptions({ tokens, operations, logger });
      const handleGraphQL = createGraphQLHandler({
        trusted,
        streams: multipart,
        apollo,
        known,
        metrics,
        responseCache: config.responseCache
          ? createResponseCache(
              {
                availabilityVersion: (nightId) => availability.storedVersion(nightId),
                reportKey: (night) => reports.keyOf(night),
                finalReportKey: FINAL_REPORT_KEY,
              },
              () => metrics.cacheLookup('response', 'miss'),
            )
          : undefined,
        mayReadReports,
        sqlStatsInExtensions: config.sqlStatsInExtensions,
        viewerFrom: (authorization) => tokens.viewerFrom(authorization),
        contextFor,
        maxBodyBytes: config.maxBodyBytes,
        rateLimiter,
      });
      const hallRoutes = createHallRoutes(() => contextFor({ kind: 'anonymous' }));
      httpServer = createServer(
        createRequestListener({
          graphql: handleGraphQL,
          eventStream: eventStreams.handle,
          telegramWebhook: telegram && config.telegram ? createTelegramWebhook({ db: handle.db, channel: telegram, secret: config.telegram.webhookSecret, logger }) : undefined,
          mediaRoutes: createMediaRoutes(
            createSongUploadRoute(() => contextFor({ kind: 'anonymous' }), logger),
            createSongPlaybackRoute(() => contextFor({ kind: 'anonymous' }), logger),
          ),
          hallRoutes,
          readiness: { stopping: () => stopping !== undefined, database: handle, redisHealth },
          metrics: deps.exposeMetrics?.(metrics.registry) ?? metrics.registry,
          logger,
        }),
      );
      const server = httpServer;
      const sockets = attachSubscriptions(server, { tokens, operations, allowedOrigins: config.allowedOrigins, logger });
      const transports = [sockets, eventStreams, multipart];
      streams = {
        activeSubscriptions: () => transports.reduce((sum, transport) => sum + transport.activeSubscriptions(), 0),
        close: async () => void (await Promise.all(transports.map((transport) => transport.close()))),
      };
      metrics.watchSubscriptions(() => streams?.activeSubscriptions() ?? 0);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const port = (server.address() as AddressInfo).port;
      if (!config.publicUrl) origin = `http://localhost:${port}`;
      const url = `${config.publicUrl ?? `http://localhost:${port}`}/graphql`;
      logger.info({ url, database: handle.kind, redis: Boolean(config.redis), trustedDocuments: trustedMode }, 'nightgraph listening');
      return { url, port, db: handle.db, dbKind: handle.kind, tokens, pubsub, availability, scopeFor: contextFor, seeded };
    },

    stop() {
      return (stopping ??= drain());
    },
  };

  /** Hands the server, its WebSockets and the cleanups to `shutDown`, once. */
  function drain(): Promise<void> {
    const server = httpServer;
    httpServer = undefined;
    return shutDown({
      server,
      closeStreams: () => {
        const closing = streams?.close() ?? Promise.resolve();
        streams = undefined;
        return closing;
      },
      cleanups,
      timeoutSeconds: config.shutdownTimeoutSeconds,
      logger,
    });
  }
}
