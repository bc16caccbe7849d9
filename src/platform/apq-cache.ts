import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import type { Redis } from 'ioredis';

/**
 * Apollo's key-value cache in Redis, for automatic persisted queries shared by every
 * instance. A Redis failure is a miss (the client then sends the full query again), never
 * an error for the request.
 */
export function redisKeyValueCache(redis: Redis, prefix: string): KeyValueCache<string> {
  return {
    async get(key) {
      try {
        return (await redis.get(prefix + key)) ?? undefined;
      } catch {
        return undefined;
      }
    },
    async set(key, value, options) {
      try {
        if (options?.ttl) await redis.set(prefix + key, value, 'EX', Math.ceil(options.ttl));
        else await redis.set(prefix + key, value);
      } catch {
        // A persisted query that was not stored is sent in full next time.
      }
    },
    async delete(key) {
      try {
        await redis.del(prefix + key);
      } catch {
        // Nothing to undo.
      }
      return true;
    },
  };
}
