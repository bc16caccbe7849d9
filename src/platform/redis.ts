import { Redis } from 'ioredis';

export interface RedisOptions {
  url: string;
  commandTimeoutMs: number;
}

/**
 * A Redis connection that fails fast: no offline queue and one retry per command, so a
 * Redis outage costs a request milliseconds (and a fallback), not ioredis's default of
 * queueing every command until Redis returns.
 */
export async function connectRedis(options: RedisOptions, name: string): Promise<Redis> {
  const redis = new Redis(options.url, {
    connectionName: `nightgraph-${name}`,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  await redis.connect();
  return redis;
}
