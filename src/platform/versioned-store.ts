import type { Redis } from 'ioredis';
import type { RedisErrorHandler } from './redis.js';

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
  /**
   * Raises a counter to `value` unless it is higher already. A raise the store could not
   * take now is taken later (see the Redis store); it does not throw.
   */
  raise(key: string, value: number, ttlSeconds: number): Promise<void>;
  /**
   * Counters' values, 0 where absent. When the store fails: the highest value this process
   * raised each to, or null if it raised none.
   */
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

/** Failed writes remembered for repair, per kind; the oldest are forgotten past this. */
const REPAIRS_KEPT = 10_000;
/** Counters this process raised, answered while Redis is unreachable; the oldest are forgotten past this. */
const COUNTERS_KEPT = 10_000;
const REPAIR_RETRY_MS = 1_000;

/**
 * Redis-backed: the compare-and-set runs as one Lua script, atomic across instances.
 * Failures read as misses (callers fall back to PostgreSQL) and are reported to `onError`.
 *
 * A write that fails is not simply dropped: an entry it should have replaced would stay
 * in Redis when Redis returns (a cut network loses no keys), older than the database,
 * and readers would take it for current until it expires. Failed `put`s and `raise`s are
 * kept (the newest per key) and written again when the connection is ready and every
 * REPAIR_RETRY_MS until Redis takes them; both are compare-and-set, so a late repair
 * never replaces anything newer. Counters this process raised answer `counters` while
 * Redis is unreachable, so its own changes keep their versions.
 */
export function createRedisVersionedStore(redis: Redis, prefix: string, onError: RedisErrorHandler): VersionedStore {
  redis.defineCommand('nightgraphPutIfNewer', { numberOfKeys: 1, lua: putIfNewer });
  const withPut = redis as Redis & {
    nightgraphPutIfNewer(key: string, version: number, value: string, ttl: number): Promise<number>;
  };
  redis.defineCommand('nightgraphRaise', {
    numberOfKeys: 1,
    lua: "if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1",
  });
  const withRaise = redis as Redis & { nightgraphRaise(key: string, value: number, ttl: number): Promise<number> };
  const writePut = (key: string, entry: Versioned, ttlSeconds: number) =>
    withPut.nightgraphPutIfNewer(prefix + key, entry.version, entry.value, Math.ceil(ttlSeconds));
  const writeRaise = (key: string, value: number, ttlSeconds: number) => withRaise.nightgraphRaise(prefix + key, value, Math.ceil(ttlSeconds));

  const raised = new Map<string, number>();
  const failedPuts = new Map<string, { entry: Versioned; ttlSeconds: number }>();
  const failedRaises = new Map<string, { value: number; ttlSeconds: number }>();
  let retry: ReturnType<typeof setTimeout> | undefined;
  let repairing = false;

  const remember = <V>(map: Map<string, V>, key: string, value: V, kept: number) => {
    map.delete(key);
    map.set(key, value);
    if (map.size > kept) map.delete(map.keys().next().value!);
  };
  const scheduleRepair = () => {
    retry ??= setTimeout(() => {
      retry = undefined;
      void repair();
    }, REPAIR_RETRY_MS);
    retry.unref?.();
  };
  /** Writes the remembered writes, oldest first; stops at the first failure and tries again later. */
  async function repair(): Promise<void> {
    if (repairing || (failedPuts.size === 0 && failedRaises.size === 0)) return;
    repairing = true;
    try {
      for (const [key, pending] of failedRaises) {
        await writeRaise(key, pending.value, pending.ttlSeconds);
        if (failedRaises.get(key) === pending) failedRaises.delete(key);
      }
      for (const [key, pending] of failedPuts) {
        await writePut(key, pending.entry, pending.ttlSeconds);
        if (failedPuts.get(key) === pending) failedPuts.delete(key);
      }
    } catch (error) {
      onError(error, 'store_repair');
      scheduleRepair();
    } finally {
      repairing = false;
    }
  }
  redis.on('ready', () => void repair());

  return {
    async raise(key, value, ttlSeconds) {
      remember(raised, key, Math.max(raised.get(key) ?? 0, value), COUNTERS_KEPT);
      try {
        await writeRaise(key, value, ttlSeconds);
      } catch (error) {
        onError(error, 'store_write');
        const pending = failedRaises.get(key);
        if (!pending || pending.value < value) remember(failedRaises, key, { value, ttlSeconds }, REPAIRS_KEPT);
        scheduleRepair();
      }
    },
    async counters(keys) {
      if (keys.length === 0) return [];
      try {
        return (await redis.mget(...keys.map((k) => prefix + k))).map((value) => Number(value ?? 0));
      } catch (error) {
        onError(error, 'store_read');
        return keys.map((key) => raised.get(key) ?? null);
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
        onError(error, 'store_read');
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
        onError(error, 'store_read');
        return null;
      }
    },
    async put(key, entry, ttlSeconds) {
      try {
        await writePut(key, entry, ttlSeconds);
      } catch (error) {
        onError(error, 'store_write');
        const pending = failedPuts.get(key);
        if (!pending || pending.entry.version <= entry.version) remember(failedPuts, key, { entry, ttlSeconds }, REPAIRS_KEPT);
        scheduleRepair();
      }
    },
  };
}
