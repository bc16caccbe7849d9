import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { DatabaseHandle } from '../db/client.js';
import type { Logger } from '../platform/logger.js';
import type { RedisHealth } from '../platform/redis.js';
import type { createHallRoutes } from './hall-routes.js';
import type { createMediaRoutes } from './media-routes.js';
import type { MetricsExposition } from './metrics.js';

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** What `/readyz` looks at. */
export interface Readiness {
  /** Whether the app has begun to stop. */
  stopping(): boolean;
  /** Its kind goes in the answer; `ping` is the bounded check on a connection of its own. */
  database: Pick<DatabaseHandle, 'kind' | 'ping'>;
  /** Undefined when embedded. */
  redisHealth: RedisHealth | undefined;
}

export interface RouteDeps {
  /** Serves `/graphql`. */
  graphql: Route;
  /** Serves `/graphql/stream` (GraphQL over Server-Sent Events). */
  eventStream: Route;
  /** Serves `/telegram/webhook` (updates from Telegram); undefined when Telegram is off. */
  telegramWebhook?: Route | undefined;
  /** Song uploads and playback; tried for every other path first, answers whether it took the request. */
  mediaRoutes: ReturnType<typeof createMediaRoutes>;
  /** Tried for every other path; answers whether it took the request. */
  hallRoutes: ReturnType<typeof createHallRoutes>;
  readiness: Readiness;
  /** What `/metrics` answers. */
  metrics: MetricsExposition;
  logger: Logger;
}

/**
 * The HTTP request listener: `/graphql`, `/graphql/stream`, `/healthz`, `/readyz`, `/metrics`, then song
 * uploads and playback, then the hall pages; anything else is a 404, and a route that fails is a 500 (or a cut connection once
 * its response has begun).
 */
export function createRequestListener({ graphql, eventStream, telegramWebhook, mediaRoutes, hallRoutes, readiness, metrics, logger }: RouteDeps): RequestListener {
  const routes: Record<string, Route> = {
    '/graphql': graphql,
    '/graphql/stream': eventStream,
    ...(telegramWebhook && { '/telegram/webhook': telegramWebhook }),
    // Liveness: the process answers. Touches nothing else, so it answers at once even
    // with every database connection busy or PostgreSQL gone.
    '/healthz': async (_req, res) => sendJson(res, 200, { status: 'ok' }),
    // Readiness: whether to send this instance requests. Not while it stops, nor while
    // PostgreSQL is unreachable (a bounded check on a connection of its own, so a busy
    // pool is still ready). Redis down is degraded, not unready: queries read
    // PostgreSQL, and every instance shares that Redis.
    '/readyz': async (_req, res) => {
      const { database, redisHealth } = readiness;
      const redis = redisHealth ? (redisHealth.up() ? 'up' : 'unreachable') : 'embedded';
      if (readiness.stopping()) return sendJson(res, 503, { status: 'stopping', database: database.kind, redis });
      try {
        await database.ping();
        sendJson(res, 200, { status: 'ready', database: database.kind, redis });
      } catch (error) {
        logger.warn({ err: error }, 'readiness check failed: the database does not answer');
        sendJson(res, 503, { status: 'unavailable', database: 'unreachable', redis });
      }
    },
    '/metrics': async (_req, res) => {
      const text = await metrics.metrics();
      res.setHeader('content-type', metrics.contentType);
      res.end(text);
    },
  };

  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = routes[path];
    const answered = route
      ? route(req, res).then(() => true)
      : mediaRoutes(req, res, path).then((done) => done || hallRoutes(req, res, path));
    answered.then((done) => {
      if (!done) sendJson(res, 404, { error: 'not found' });
    }).catch((error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    });
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
