import type { Redis } from 'ioredis';
import type { RedisErrorHandler } from './redis.js';

/** One budget a send draws from: at most one send per `intervalMs` under `key`. */
export interface Lane {
  key: string;
  intervalMs: number;
}

/** What `reserve` answers: when the caller may send, or how long it must stay away. */
export type Reservation =
  /** A slot is held `waitMs` from now (0: now) in every lane; send then, not before. */
  | { kind: 'slot'; waitMs: number }
  /** The lanes are busier than `maxWaitMs`, or paused: nothing was reserved; come back in `retryInMs`. */
  | { kind: 'later'; retryInMs: number; paused: boolean };

/**
 * Spaces sends out across every instance: each lane (a bot, a chat) hands out slots
 * `intervalMs` apart — the generic cell rate algorithm with no burst, so no window of
 * `n·intervalMs` ever holds more than `n` sends, wherever the window falls. A slot is
 * reserved in all lanes at once or in none. A pause (a 429's `retry_after`) closes a
 * lane to every instance until it runs out.
 */
export interface Pacer {
  reserve(lanes: readonly Lane[], maxWaitMs: number, pauseKey: string): Promise<Reservation>;
  /** Closes `pauseKey` for `ms` from now (never shortens a longer pause). */
  pause(pauseKey: string, ms: number): Promise<void>;
  /** How long `pauseKey` stays closed, in ms (0: open). */
  pausedFor(pauseKey: string): Promise<number>;
}

/** For the embedded mode: one process, so the lanes live in memory. */
export function createMemoryPacer(now: () => number = Date.now): Pacer {
  /** Per lane, the earliest time its next slot may be. */
  const nextSlot = new Map<string, number>();
  const pausedUntil = new Map<string, number>();
  return {
    async reserve(lanes, maxWaitMs, pauseKey) {
      const at = now();
      const paused = (pausedUntil.get(pauseKey) ?? 0) - at;
      if (paused > 0) return { kind: 'later', retryInMs: paused, paused: true };
      const slot = Math.max(at, ...lanes.map((lane) => nextSlot.get(lane.key) ?? 0));
      if (slot - at > maxWaitMs) return { kind: 'later', retryInMs: slot - at - maxWaitMs, paused: false };
      for (const lane of lanes) nextSlot.set(lane.key, slot + lane.intervalMs);
      return { kind: 'slot', waitMs: slot - at };
    },
    async pause(pauseKey, ms) {
      pausedUntil.set(pauseKey, Math.max(pausedUntil.get(pauseKey) ?? 0, now() + ms));
    },
    async pausedFor(pauseKey) {
      return Math.max(0, (pausedUntil.get(pauseKey) ?? 0) - now());
    },
  };
}

/**
 * The same rule in one Lua script, so that checking the pause, finding the slot and
 * taking it in every lane is one atomic step on Redis's clock, whichever instance asks.
 * KEYS: the pause key, then one key per lane; ARGV: maxWaitMs, then each lane's interval.
 * Answers `{0, wait}` for a slot, `{1, retryIn}` when paused, `{2, retryIn}` when too busy.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return {1, paused} end
local slot = now
for i = 2, #KEYS do
  local next = tonumber(redis.call('GET', KEYS[i]) or '0')
  if next > slot then slot = next end
end
local maxWait = tonumber(ARGV[1])
if slot - now > maxWait then return {2, slot - now - maxWait} end
for i = 2, #KEYS do
  local interval = tonumber(ARGV[i])
  redis.call('SET', KEYS[i], slot + interval, 'PX', slot - now + interval + 1000)
end
return {0, slot - now}
`;

/** Sets the pause unless a longer one is already in place. */
const PAUSE = `
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 0
`;

/**
 * Shared by every instance on one Redis. When Redis fails, the instance falls back to its
 * own lanes in memory (counted through `onError`): it may then send more than its share,
 * and Telegram's own 429s — which still pause it — are the backstop.
 */
export function createRedisPacer(redis: Redis, prefix: string, onError: RedisErrorHandler): Pacer {
  const local = createMemoryPacer();
  const key = (name: string) => `${prefix}pace:${name}`;
  return {
    async reserve(lanes, maxWaitMs, pauseKey) {
      try {
        const [kind, ms] = (await redis.eval(
          RESERVE,
          1 + lanes.length,
          key(pauseKey),
          ...lanes.map((lane) => key(lane.key)),
          maxWaitMs,
          ...lanes.map((lane) => lane.intervalMs),
        )) as [number, number];
        return kind === 0 ? { kind: 'slot', waitMs: ms } : { kind: 'later', retryInMs: ms, paused: kind === 1 };
      } catch (error) {
        onError(error, 'store_write');
        return local.reserve(lanes, maxWaitMs, pauseKey);
      }
    },
    async pause(pauseKey, ms) {
      await local.pause(pauseKey, ms);
      try {
        await redis.eval(PAUSE, 1, key(pauseKey), Math.ceil(ms));
      } catch (error) {
        onError(error, 'store_write');
      }
    },
    async pausedFor(pauseKey) {
      try {
        return Math.max(0, await redis.pttl(key(pauseKey)));
      } catch (error) {
        onError(error, 'store_read');
        return local.pausedFor(pauseKey);
      }
    },
  };
}
