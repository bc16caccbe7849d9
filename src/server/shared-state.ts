import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { createMemoryCache, createRedisCache, type Cache } from '../platform/cache.js';
import type { Logger } from '../platform/logger.js';
import { createMemoryPacer, createRedisPacer, type Pacer } from '../platform/pacer.js';
import { createMemoryPubSub, createRedisPubSub, type PubSub } from '../platform/pubsub.js';
import { connectRedis, watchRedis, type RedisHealth, type RedisOperation } from '../platform/redis.js';
import { createMemoryVersionedStore, createRedisVersionedStore, type VersionedStore } from '../platform/versioned-store.js';

export interface SharedState {
  pubsub: PubSub;
  cache: Cache;
  store: VersionedStore;
  /** Paces sends to outside services (Telegram) across instances. */
  pacer: Pacer;
  /** The commands connection first, then the subscriber; empty when embedded. */
  redisClients: Redis[];
  /** Undefined when embedded. */
  redisHealth: RedisHealth | undefined;
  /** Closes the Redis connections, whether Redis answers or not. */
  closeRedis(): Promise<void>;
}

/**
 * Pub/sub, cache and snapshot store: in memory, or on Redis. With Redis every failed call
 * falls back (cache and store read as misses, pub/sub delivers within the instance) and is
 * counted through `onRedisError` (`nightgraph_redis_errors_total{operation}`); losing and
 * regaining the connections is logged.
 */
export async function openSharedState(config: Config, logger: Logger, onRedisError?: (operation: RedisOperation) => void): Promise<SharedState> {
  if (!config.redis) {
    return {
      pubsub: createMemoryPubSub(),
      cache: createMemoryCache(),
      store: createMemoryVersionedStore(),
      pacer: createMemoryPacer(),
      redisClients: [],
      redisHealth: undefined,
      closeRedis: async () => {},
    };
  }
  const [commands, subscriber] = await Promise.all([
    connectRedis(config.redis, 'commands'),
    connectRedis(config.redis, 'subscriber'),
  ]);
  const prefix = config.redis.keyPrefix;
  const health = watchRedis({ commands, subscriber }, logger, onRedisError);
  return {
    pubsub: createRedisPubSub(commands, subscriber, prefix, health.failed),
    cache: createRedisCache(commands, prefix, health.failed),
    store: createRedisVersionedStore(commands, prefix, health.failed),
    pacer: createRedisPacer(commands, prefix, health.failed),
    redisClients: [commands, subscriber],
    redisHealth: health,
    async closeRedis() {
      health.close();
      // QUIT needs a connection; without one, stop reconnecting.
      await Promise.all([commands, subscriber].map((redis) => redis.quit().catch(() => redis.disconnect())));
    },
  };
}
