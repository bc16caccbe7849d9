import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLError } from 'graphql';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { openDatabase, type Database, type DatabaseHandle } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { seedDemoData } from '../db/seed.js';
import type { Context } from '../graphql/context.js';
import { buildSchema } from '../graphql/schema.js';
import { createLoaders } from '../modules/loaders.js';
import { currentUserOnce } from '../modules/users/service.js';
import { createTokenService, resolveJwtSecret, type TokenService } from '../platform/auth.js';
import { createMemoryCache, createRedisCache, type Cache } from '../platform/cache.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { createMemoryPubSub, createRedisPubSub, type PubSub } from '../platform/pubsub.js';
import { connectRedis } from '../platform/redis.js';
import { AvailabilityFeed } from '../modules/clubs/availability-feed.js';
import { createAvailability, type Availability } from '../modules/clubs/availability.js';
import { startHoldExpiry } from '../modules/bookings/expiry.js';
import { createMemoryVersionedStore, createRedisVersionedStore, type VersionedStore } from '../platform/versioned-store.js';
import { newSqlStats } from '../platform/sql-stats.js';
import type { Viewer } from '../platform/auth.js';
import { formatResult, notFound } from '../errors.js';
import { isUuid } from '../graphql/batch.js';
import { createApollo } from './apollo.js';
import { createSharedSubscriptions } from './shared-subscriptions.js';
import { createResponseCache } from './response-cache.js';
import { attachWebSocket, type Extra } from './ws.js';
import { createHallRoutes } from './hall-routes.js';
import { createGraphQLHandler } from './graphql-http.js';
import { createMetrics } from './metrics.js';

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
      const availabilityFeed = new AvailabilityFeed(availability, (error) =>
        logger.warn({ err: error }, 'could not refresh a live availability snapshot'),
      );
      const holdExpiry = startHoldExpiry(handle.db, availability, config.bookings.sweepIntervalSeconds, (error) =>
        logger.warn({ err: error }, 'hold expiry sweep failed'),
      );
      cleanups.push(() => holdExpiry.stop());

      const tokens = createTokenService(
        resolveJwtSecret(config.jwtSecret, config.dataDir, (message) => logger.warn(message)),
      );
      const schema = buildSchema();
      /** Errors that are not ours are masked for clients; the log keeps them. */
      const logUnexpected = <R extends { errors?: readonly GraphQLError[] }>(result: R): R => {
        for (const error of result.errors ?? []) {
          const code = error.extensions?.code;
          if (code === undefined || code === 'INTERNAL_SERVER_ERROR') {
            logger.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error in a WebSocket operation');
          }
        }
        return result;
      };
      const apollo = createApollo(schema, config, metrics, logger);
      await apollo.start();
      cleanups.push(() => apollo.stop());

      const loaderOptions = { batch: config.loaderBatching };
      const contextFor = (viewer: Viewer, sqlStats = newSqlStats()): Context => ({
        db: handle.db,
        viewer,
        loaders: createLoaders(handle.db, loaderOptions, availability),
        currentUser: currentUserOnce(handle.db, viewer),
        availability,
        availabilityFeed,
        settings: { holdTtlSeconds: config.bookings.holdTtlSeconds },
        sqlStats,
        availabilityVersions: new Map(),
      });
      const handleGraphQL = createGraphQLHandler({
        apollo,
        metrics,
        responseCache: config.responseCache ? createResponseCache((nightId) => availability.storedVersion(nightId)) : undefined,
        sqlStatsInExtensions: config.sqlStatsInExtensions,
        viewerFrom: (authorization) => tokens.viewerFrom(authorization),
        contextFor,
      });
      const shared = createSharedSubscriptions(
        {
          availabilityChanged: {
            topic: (args) => String(args.nightId),
            admit: async (nightId) => {
              const [snapshot] = await availability.load([nightId].filter(isUuid));
              if (!snapshot) throw notFound('Night', nightId);
            },
            listen: (nightId, push) => availabilityFeed.listen(nightId, push),
          },
        },
        () => contextFor({ kind: 'anonymous' }),
        (result) => formatResult(logUnexpected(result), exposeInternals(config)),
      );

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
      const sockets = attachWebSocket<SocketExtra>(server, {
        logger,
        rewrite: shared.substitute,
        originAllowed: (origin, request) => originAllowed(origin, request, config.allowedOrigins),
        graphql: {
          schema,
          subscribe: shared.subscribe,
          onNext: (_ctx, _id, _payload, _args, result) =>
            shared.onNext(result) ?? formatResult(logUnexpected(result), exposeInternals(config)),
          jsonMessageReplacer: shared.replacer,
          onConnect: async (ctx) => {
            const authorization = ctx.connectionParams?.authorization;
            const viewer = await tokens.viewerFrom(typeof authorization === 'string' ? authorization : undefined);
            // A token that was sent but is not valid is refused (4403); no token is anonymous.
            if (viewer.kind === 'anonymous' && viewer.tokenProblem) return false;
            ctx.extra.viewer = viewer;
            return true;
          },
          context: (ctx) => contextFor(ctx.extra.viewer ?? { kind: 'anonymous' }),
        },
      });
      cleanups.push(() => sockets.close());
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const port = (server.address() as AddressInfo).port;
      const url = `${config.publicUrl ?? `http://localhost:${port}`}/graphql`;
      logger.info({ url, database: handle.kind, redis: Boolean(config.redis) }, 'nightgraph listening');
      return { url, port, db: handle.db, dbKind: handle.kind, tokens, pubsub, cache, availability, seeded };
    },

    async stop() {
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

type SocketExtra = Extra & { viewer?: Viewer };

/** Pages of the server's own origin and of the configured ones. */
function originAllowed(origin: string, request: IncomingMessage, allowed: string[]): boolean {
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

const exposeInternals = (config: Config) => config.env === 'development';

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
