import type { Redis } from 'ioredis';

export interface Versioned {
  version: number;
  value: string;
}

/**
 * The latest version of each key, shared by every reader. `put` never replaces a newer
 * version with an older one, so a reader that computed a value from an older database
 * state cannot overwrite what a later writer stored.
 */
export interface VersionedStore {
  getMany(keys: readonly string[]): Promise<(Versioned | null)[]>;
  /** Only the version stored under `key` (cheaper than the value); null when absent. */
  version(key: string): Promise<number | null>;
  put(key: string, entry: Versioned, ttlSeconds: number): Promise<void>;
  /** Raises a counter to `value` unless it is higher already. Throws when the store fails. */
  raise(key: string, value: number, ttlSeconds: number): Promise<void>;
  /** Counters' values, 0 where absent; nulls when the store fails. */
  counters(keys: readonly string[]): Promise<(number | null)[]>;
}

export function createMemoryVersionedStore(maxEntries = 50_000): VersionedStore {
  const entries = new Map<string, Versioned & { expiresAt: number }>();
  const counts = new Map<string, number>();
  return {
    async raise(key, value) {
      counts.set(key, Math.max(counts.get(key) ?? 0, value));
    },
    async counters(keys) {
      return keys.map((key) => counts.get(key) ?? 0);
    },
    async getMany(keys) {
      const now = Date.now();
      return keys.map((key) => {
        const entry = entries.get(key);
        if (!entry || entry.expiresAt <= now) return null;
        return { version: entry.version, value: entry.value };
      });
    },
    async version(key) {
      const entry = entries.get(key);
      return entry && entry.expiresAt > Date.now() ? entry.version : null;
    },
    async put(key, entry, ttlSeconds) {
      const current = entries.get(key);
      if (current && current.version > entry.version && current.expiresAt > Date.now()) return;
      entries.delete(key);
      entries.set(key, { ...entry, expiresAt: Date.now() + ttlSeconds * 1000 });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
  };
}

// KEYS[1] = key; ARGV = version, value, ttl. Stored as "<version>\n<value>".
const putIfNewer = `
local current = redis.call('GET', KEYS[1])
if current then
  local stored = tonumber(string.match(current, '^(%d+)\\n'))
  if stored and stored > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. ARGV[2], 'EX', ARGV[3])
return 1`;

/**
 * Redis-backed: the compare-and-set runs as one Lua script, atomic across instances.
 * Failures read as misses and writes are dropped (callers fall back to PostgreSQL).
 */
export function createRedisVersionedStore(redis: Redis, prefix: string, onError: (error: unknown) => void): VersionedStore {
  redis.defineCommand('nightgraphPutIfNewer', { numberOfKeys: 1, lua: putIfNewer });
  const withPut = redis as Redis & {
    nightgraphPutIfNewer(key: string, version: number, value: string, ttl: number): Promise<number>;
  };
  redis.defineCommand('nightgraphRaise', {
    numberOfKeys: 1,
    lua: "if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1",
  });
  const withRaise = redis as Redis & { nightgraphRaise(key: string, value: number, ttl: number): Promise<number> };
  return {
    raise: async (key, value, ttlSeconds) => {
      await withRaise.nightgraphRaise(prefix + key, value, Math.ceil(ttlSeconds));
    },
    async counters(keys) {
      if (keys.length === 0) return [];
      try {
        return (await redis.mget(...keys.map((k) => prefix + k))).map((value) => Number(value ?? 0));
      } catch (error) {
        onError(error);
        return keys.map(() => null);
      }
    },
    async getMany(keys) {
      if (keys.length === 0) return [];
      try {
        const raw = await redis.mget(...keys.map((k) => prefix + k));
        return raw.map((stored) => {
          if (stored === null) return null;
          const newline = stored.indexOf('\n');
          return { version: Number(stored.slice(0, newline)), value: stored.slice(newline + 1) };
        });
      } catch (error) {
        onError(error);
        return keys.map(() => null);
      }
    },
    async version(key) {
      try {
        // The value starts with "<version>\n": read no more than a version can span.
        const head = await redis.getrange(prefix + key, 0, 20);
        const newline = head.indexOf('\n');
        return newline > 0 ? Number(head.slice(0, newline)) : null;
      } catch (error) {
        onError(error);
        return null;
      }
    },
    async put(key, entry, ttlSeconds) {
      try {
        await withPut.nightgraphPutIfNewer(prefix + key, entry.version, entry.value, Math.ceil(ttlSeconds));
      } catch (error) {
        onError(error);
      }
    },
  };
}
