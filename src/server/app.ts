import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { openDatabase, type Database, type DatabaseHandle } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { seedDemoData } from '../db/seed.js';
import type { Context } from '../graphql/context.js';
import { buildSchema } from '../graphql/schema.js';
import { createLoaders, type Loaders } from '../modules/loaders.js';
import { currentUserOnce } from '../modules/users/service.js';
import { createTokenService, resolveJwtSecret, type TokenService } from '../platform/auth.js';
import { createMemoryCache, createRedisCache, type Cache } from '../platform/cache.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { createMemoryPubSub, createRedisPubSub, type PubSub } from '../platform/pubsub.js';
import { connectRedis } from '../platform/redis.js';
import { SnapshotFeed } from '../platform/snapshot-feed.js';
import { createVoteResultsStore } from '../modules/voting/results-store.js';
import { createAvailability, type Availability } from '../modules/clubs/availability.js';
import { startHoldExpiry } from '../modules/bookings/expiry.js';
import { createNotificationHub } from '../modules/notifications/service.js';
import { outboxStats, startOutboxWorkers } from '../modules/notifications/worker.js';
import { startWishlistScheduler } from '../modules/streamers/sync.js';
import { createMemoryVersionedStore, createRedisVersionedStore, type VersionedStore } from '../platform/versioned-store.js';
import { newSqlStats } from '../platform/sql-stats.js';
import type { Viewer } from '../platform/auth.js';
import type { Scope } from '../modules/scope.js';
import { createApollo } from './apollo.js';
import { createResponseCache } from './response-cache.js';
import { attachSubscriptions } from './subscriptions.js';
import { createHallRoutes } from './hall-routes.js';
import { createGraphQLHandler } from './graphql-http.js';
import { createMetrics } from './metrics.js';

const LIVE_RECONCILE_MS = 5_000;

export interface AppDeps {
  logger?: Logger;
}

/** A running server and the parts tests and tools reach into. */
export interface RunningApp {
  url: string;
  port: number;
  db: Database;
  dbKind: DatabaseHandle['kind'];
  tokens: TokenService;
  pubsub: PubSub;
  cache: Cache;
  availability: Availability;
  /** A service scope for this caller, as a request would get it. */
  scopeFor(viewer: Viewer): Scope;
  /** Whether demo data was loaded on this start. */
  seeded: boolean;
}

export interface App {
  /** Opens the database (applying migrations), Redis if configured, and listens. */
  start(): Promise<RunningApp>;
  /** Stops accepting requests, drains the ones in flight, then closes Redis and the database. */
  stop(): Promise<void>;
}

export function createApp(config: Config, deps: AppDeps = {}): App {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  let httpServer: Server | undefined;
  let sockets: { close(): Promise<void> } | undefined;

  return {
    async start() {
      const metrics = createMetrics();
      cleanups.push(metrics.close);

      const handle = await openDatabase(config.database);
      cleanups.push(() => handle.close());
      await migrate(handle);
      const { seeded } = config.seedDemoData ? await seedDemoData(handle.db) : { seeded: false };

      const { pubsub, cache, store, redisClients } = await openSharedState(config, logger);
      cleanups.push(() => pubsub.close(), ...redisClients.map((r) => () => r.quit()));
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
      if (config.outbox.workers > 0) {
        const workers = startOutboxWorkers({ db: handle.db, pubsub, settings: config.outbox, metrics: metrics.outbox }, (error) =>
          logger.warn({ err: error }, 'outbox delivery failed'),
        );
        cleanups.push(() => workers.stop());
      }
      metrics.watchOutbox(() => outboxStats(handle.db));
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

      const tokens = createTokenService(
        resolveJwtSecret(config.jwtSecret, config.dataDir, (message) => logger.warn(message)),
      );
      const schema = buildSchema();
      const apollo = createApollo(schema, config, metrics, logger);
      await apollo.start();
      cleanups.push(() => apollo.stop());

      const loaderOptions = { batch: config.loaderBatching };
      const settings = { holdTtlSeconds: config.bookings.holdTtlSeconds, wishlistSync: config.wishlistSync };
      const contextFor = (viewer: Viewer, sqlStats = newSqlStats()): Context => {
        let loaders: Loaders | undefined;
        return {
          db: handle.db,
          viewer,
          // Built on first use: a WebSocket subscriber served from a shared group never needs them.
          get loaders() {
            return (loaders ??= createLoaders(handle.db, loaderOptions, availability, voteResults));
          },
          currentUser: currentUserOnce(handle.db, viewer),
          availability,
          availabilityFeed,
          voteResults,
          notifications,
          settings,
          sqlStats,
          availabilityVersions: new Map(),
        };
      };
      const handleGraphQL = createGraphQLHandler({
        apollo,
        metrics,
        responseCache: config.responseCache ? createResponseCache((nightId) => availability.storedVersion(nightId)) : undefined,
        sqlStatsInExtensions: config.sqlStatsInExtensions,
        viewerFrom: (authorization) => tokens.viewerFrom(authorization),
        contextFor,
      });
      const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
        '/graphql': handleGraphQL,
        '/healthz': async (_req, res) => sendJson(res, 200, { status: 'ok' }),
        '/readyz': async (_req, res) => {
          try {
            await handle.ping();
            await Promise.all(redisClients.map((r) => r.ping()));
            sendJson(res, 200, { status: 'ready', database: handle.kind, redis: redisClients.length > 0 });
          } catch (error) {
            logger.warn({ err: error }, 'readiness check failed');
            sendJson(res, 503, { status: 'unavailable' });
          }
        },
        '/metrics': async (_req, res) => {
          res.setHeader('content-type', metrics.registry.contentType);
          res.end(await metrics.registry.metrics());
        },
      };

      const hallRoutes = createHallRoutes(() => contextFor({ kind: 'anonymous' }));
      httpServer = createServer((req, res) => {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        const route = routes[path];
        const answered = route
          ? route(req, res).then(() => true)
          : hallRoutes(req, res, path);
        answered.then((done) => {
          if (!done) sendJson(res, 404, { error: 'not found' });
        }).catch((error: unknown) => {
          logger.error({ err: error }, 'request failed');
          if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
          else res.destroy();
        });
      });
      const server = httpServer;
      sockets = attachSubscriptions(server, {
        schema,
        config,
        tokens,
        availabilityFeed,
        voteResultsFeed,
        logger,
        contextFor: (viewer) => contextFor(viewer),
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const port = (server.address() as AddressInfo).port;
      const url = `${config.publicUrl ?? `http://localhost:${port}`}/graphql`;
      logger.info({ url, database: handle.kind, redis: Boolean(config.redis) }, 'nightgraph listening');
      return { url, port, db: handle.db, dbKind: handle.kind, tokens, pubsub, cache, availability, scopeFor: contextFor, seeded };
    },

    async stop() {
      // WebSockets first: an open upgraded socket would keep the HTTP server from closing.
      await sockets?.close();
      sockets = undefined;
      if (httpServer) {
        const server = httpServer;
        httpServer = undefined;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
      }
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          await cleanup();
        } catch (error) {
          logger.warn({ err: error }, 'error while stopping');
        }
      }
    },
  };
}

async function openSharedState(
  config: Config,
  logger: Logger,
): Promise<{ pubsub: PubSub; cache: Cache; store: VersionedStore; redisClients: Redis[] }> {
  if (!config.redis) {
    return { pubsub: createMemoryPubSub(), cache: createMemoryCache(), store: createMemoryVersionedStore(), redisClients: [] };
  }
  const [commands, subscriber] = await Promise.all([
    connectRedis(config.redis, 'commands'),
    connectRedis(config.redis, 'subscriber'),
  ]);
  const prefix = config.redis.keyPrefix;
  const cacheUnavailable = (error: unknown) => logger.warn({ err: error }, 'cache unavailable, reading PostgreSQL');
  return {
    pubsub: createRedisPubSub(commands, subscriber, prefix),
    cache: createRedisCache(commands, prefix, cacheUnavailable),
    store: createRedisVersionedStore(commands, prefix, cacheUnavailable),
    redisClients: [commands, subscriber],
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
