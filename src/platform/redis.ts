import { Redis, type Command } from 'ioredis';
import type { Logger } from './logger.js';
import { startClientSpan, tracingEnabled } from './tracing.js';

export interface RedisOptions {
  url: string;
  commandTimeoutMs: number;
}

/** What a failed Redis call was doing: the `operation` label of `nightgraph_redis_errors_total`. */
export type RedisOperation =
  | 'cache_read'
  | 'cache_write'
  | 'store_read'
  | 'store_write'
  | 'store_repair'
  | 'publish'
  | 'subscribe'
  | 'unsubscribe';

/** Reported with every Redis call that failed; the caller has fallen back already. */
export type RedisErrorHandler = (error: unknown, operation: RedisOperation) => void;

/** Longest pause between attempts to reconnect (ioredis: 2 s), so Redis is used again soon after it returns. */
const MAX_RECONNECT_DELAY_MS = 1_000;

/**
 * A Redis connection that fails fast: no offline queue and one retry per command, so a
 * Redis outage costs a request milliseconds (and a fallback), not ioredis's default of
 * queueing every command until Redis returns. It reconnects on its own, forever;
 * connection errors are for `watchRedis` to report, not printed by ioredis.
 */
export async function connectRedis(options: RedisOptions, name: string): Promise<Redis> {
  const redis = new Redis(options.url, {
    connectionName: `nightgraph-${name}`,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  });
  // Without a listener ioredis prints every failed reconnect attempt to stderr.
  redis.on('error', () => {});
  if (tracingEnabled()) traceCommands(redis);
  await redis.connect();
  return redis;
}

/**
 * Every command sent inside traced work becomes a client span named for the command
 * (`GET`, `PUBLISH`, `EVALSHA`…): its keys and arguments are left out, as they carry ids
 * and payloads. ioredis has no hook for this; `sendCommand` is the one door every
 * command, pipelined or not, goes through.
 */
function traceCommands(redis: Redis): void {
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    const command: Command = args[0];
    const operation = command.name.toUpperCase();
    const end = startClientSpan(operation, { 'db.system.name': 'redis', 'db.operation.name': operation });
    if (end) command.promise.then(() => end(), end);
    return send(...args);
  };
}

/** The state of an instance's Redis connections, as `/readyz` reports it. */
export interface RedisHealth {
  /** Whether every connection is up now. */
  up(): boolean;
  /** To be called with every Redis call that failed (the cache, the store and pub/sub do). */
  failed: RedisErrorHandler;
  /** Stops watching (before the connections are closed on purpose). */
  close(): void;
}

/** Failed calls are logged at most once per this long, with the number since the last line. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Says clearly when Redis goes away and when it is back: one warning per connection lost,
 * one line when it is ready again, and failed calls (each counted through `onError`, for
 * the metric) logged at most once per FAILURE_LOG_INTERVAL_MS with how many there were.
 * While Redis is away the cache reads PostgreSQL and live updates reach this instance's
 * own subscribers only.
 */
export function watchRedis(
  connections: Record<string, Redis>,
  logger: Pick<Logger, 'warn' | 'info'>,
  onError: (operation: RedisOperation) => void = () => {},
): RedisHealth {
  const lost = new Set<string>();
  let closing = false;
  let failures = 0;
  let loggedAt = -Infinity;
  const unwatch: (() => void)[] = [];
  for (const [name, redis] of Object.entries(connections)) {
    let lastError: unknown;
    const onErrorEvent = (error: unknown) => {
      lastError = error;
    };
    const onClose = () => {
      if (closing || lost.has(name)) return;
      lost.add(name);
      logger.warn(
        { err: lastError, connection: name },
        'Redis connection lost: the cache falls back to PostgreSQL and live updates reach only this instance until it returns',
      );
    };
    const onReady = () => {
      if (!lost.delete(name)) return;
      logger.info({ connection: name }, 'Redis connection is back');
    };
    redis.on('error', onErrorEvent);
    redis.on('close', onClose);
    redis.on('ready', onReady);
    unwatch.push(() => {
      redis.off('error', onErrorEvent);
      redis.off('close', onClose);
      redis.off('ready', onReady);
    });
  }
  return {
    up: () => Object.values(connections).every((redis) => redis.status === 'ready'),
    failed(error, operation) {
      onError(operation);
      failures += 1;
      const now = performance.now();
      if (now - loggedAt < FAILURE_LOG_INTERVAL_MS) return;
      logger.warn({ err: error, operation, failures }, 'Redis calls failed: reading PostgreSQL instead of the cache');
      loggedAt = now;
      failures = 0;
    },
    close() {
      closing = true;
      for (const stop of unwatch) stop();
    },
  };
}
