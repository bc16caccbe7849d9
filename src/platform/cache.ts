import type { Redis } from 'ioredis';
import type { RedisErrorHandler } from './redis.js';

/**
 * A shared cache of strings. A read that fails (Redis down, timeout) is a miss and a
 * write that fails is dropped: callers always fall back to PostgreSQL.
 */
export interface Cache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** One process only: the embedded default. Expired entries are dropped when read. */
export function createMemoryCache(maxEntries = 10_000): Cache {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  return {
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return null;
      if (entry.expiresAt <= Date.now()) {
        entries.delete(key);
        return null;
      }
      return entry.value;
    },
    async set(key, value, ttlSeconds) {
      entries.delete(key);
      entries.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
      // Maps iterate in insertion order: the first key is the least recently written.
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    async delete(key) {
      entries.delete(key);
    },
  };
}

/**
 * Redis-backed, for every instance. With Redis unreachable each call fails at once (no
 * offline queue) and is reported to `onError`; reads are then misses, writes are dropped.
 */
export function createRedisCache(redis: Redis, prefix: string, onError: RedisErrorHandler): Cache {
  return {
    async get(key) {
      try {
        return await redis.get(prefix + key);
      } catch (error) {
        onError(error, 'cache_read');
        return null;
      }
    },
    async set(key, value, ttlSeconds) {
      try {
        await redis.set(prefix + key, value, 'EX', ttlSeconds);
      } catch (error) {
        onError(error, 'cache_write');
      }
    },
    async delete(key) {
      try {
        await redis.del(prefix + key);
      } catch (error) {
        onError(error, 'cache_write');
      }
    },
  };
}
