import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError, ErrorCode } from '../errors.js';

export type Budget = 'query' | 'mutation';

export interface RateLimiter {
  /** Takes one request from `key`'s budget; RATE_LIMITED (with `retryAfter` seconds) when it is spent. */
  consume(budget: Budget, key: string): Promise<void>;
}

export interface RateLimits {
  queriesPerMinute: number;
  mutationsPerMinute: number;
}

/**
 * Fixed budgets per minute per caller (a user, or an address when anonymous), one for
 * queries and subscriptions, one for mutations. Counted in Redis when configured, so
 * every instance draws from the same budget; in memory otherwise. When Redis fails the
 * count continues in this instance's memory (the insurance limiter) rather than letting
 * everything through or refusing everything.
 */
export function createRateLimiter(limits: RateLimits, redis?: { client: Redis; prefix: string }, onLimited?: (budget: Budget) => void): RateLimiter {
  const make = (budget: Budget, points: number): RateLimiterAbstract => {
    const options = { points, duration: 60, keyPrefix: `rate:${budget}` };
    if (!redis) return new RateLimiterMemory(options);
    return new RateLimiterRedis({
      ...options,
      keyPrefix: `${redis.prefix}rate:${budget}`,
      storeClient: redis.client,
      insuranceLimiter: new RateLimiterMemory(options),
    });
  };
  const limiters = { query: make('query', limits.queriesPerMinute), mutation: make('mutation', limits.mutationsPerMinute) };
  return {
    async consume(budget, key) {
      try {
        await limiters[budget].consume(key);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        onLimited?.(budget);
        const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw new AppError(ErrorCode.RATE_LIMITED, `Too many ${budget === 'mutation' ? 'mutations' : 'requests'}: try again in ${retryAfter} s`, {
          retryAfter,
          http: { status: 429, headers: new Map([['retry-after', String(retryAfter)]]) },
        });
      }
    },
  };
}

/** Whose budget a request draws from: the signed-in subject, else the client's address. */
export function rateLimitKey(subject: string | undefined, address: string | undefined): string {
  return subject ? `user:${subject}` : `ip:${address ?? 'unknown'}`;
}
