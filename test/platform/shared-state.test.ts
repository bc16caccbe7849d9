import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryCache, createRedisCache, type Cache } from '../../src/platform/cache.js';
import { createMemoryPubSub, createRedisPubSub, type PubSub } from '../../src/platform/pubsub.js';
import { connectRedis } from '../../src/platform/redis.js';

const redisUrl = process.env.REDIS_URL;
const prefix = `nightgraph-test:${randomBytes(6).toString('hex')}:`;

async function redisPair() {
  const options = { url: redisUrl!, commandTimeoutMs: 1000 };
  const [commands, subscriber] = await Promise.all([connectRedis(options, 'test'), connectRedis(options, 'test-sub')]);
  return { commands, subscriber };
}

const nextMessage = (pubsub: PubSub, topic: string) =>
  new Promise<{ message: string; unsubscribe: () => Promise<void> }>((resolve) => {
    const subscribed = pubsub.subscribe(topic, (message) => void subscribed.then((unsubscribe) => resolve({ message, unsubscribe })));
    void subscribed.then(() => pubsub.publish(topic, 'hello'));
  });

function pubsubContract(name: string, make: () => Promise<{ a: PubSub; b: PubSub; close(): Promise<void> }>) {
  describe(`${name} pub/sub`, () => {
    it('delivers a message published after subscribing, on this or another connection', async () => {
      const { a, b, close } = await make();
      try {
        const received: string[] = [];
        const unsubscribe = await a.subscribe('night:1', (m) => received.push(m));
        await b.publish('night:1', 'v2');
        await b.publish('night:2', 'elsewhere');
        await expect.poll(() => received).toEqual(['v2']);
        await unsubscribe();
        await b.publish('night:1', 'after');
        await new Promise((r) => setTimeout(r, 50));
        expect(received).toEqual(['v2']);
        const { message, unsubscribe: done } = await nextMessage(a, 'topic:x');
        expect(message).toBe('hello');
        await done();
      } finally {
        await close();
      }
    });

    it('keeps delivering to the remaining listeners of a topic when one leaves', async () => {
      const { a, b, close } = await make();
      try {
        const first: string[] = [];
        const second: string[] = [];
        const leave = await a.subscribe('t', (m) => first.push(m));
        await a.subscribe('t', (m) => second.push(m));
        await leave();
        await b.publish('t', 'm');
        await expect.poll(() => second).toEqual(['m']);
        expect(first).toEqual([]);
      } finally {
        await close();
      }
    });
  });
}

function cacheContract(name: string, make: () => Promise<{ cache: Cache; close(): Promise<void> }>) {
  describe(`${name} cache`, () => {
    it('returns what was set until it expires or is deleted', async () => {
      const { cache, close } = await make();
      try {
        expect(await cache.get('k')).toBeNull();
        await cache.set('k', 'v', 60);
        expect(await cache.get('k')).toBe('v');
        await cache.delete('k');
        expect(await cache.get('k')).toBeNull();
        await cache.set('short', 'v', 1);
        await new Promise((r) => setTimeout(r, 1100));
        expect(await cache.get('short')).toBeNull();
      } finally {
        await close();
      }
    });
  });
}

pubsubContract('memory', async () => {
  const shared = createMemoryPubSub();
  return { a: shared, b: shared, close: () => shared.close() };
});
cacheContract('memory', async () => ({ cache: createMemoryCache(), close: async () => {} }));

describe('memory cache bound', () => {
  it('forgets the oldest entry past its size limit', async () => {
    const cache = createMemoryCache(2);
    await cache.set('a', '1', 60);
    await cache.set('b', '2', 60);
    await cache.set('c', '3', 60);
    expect([await cache.get('a'), await cache.get('b'), await cache.get('c')]).toEqual([null, '2', '3']);
  });
});

describe.skipIf(!redisUrl)('Redis (needs real Redis: REDIS_URL)', () => {
  afterAll(async () => {
    const { commands } = await redisPair();
    const keys = await commands.keys(`${prefix}*`);
    if (keys.length) await commands.del(...keys);
    await commands.quit();
  });

  pubsubContract('Redis', async () => {
    const one = await redisPair();
    const two = await redisPair();
    return {
      a: createRedisPubSub(one.commands, one.subscriber, prefix),
      b: createRedisPubSub(two.commands, two.subscriber, prefix),
      close: async () => {
        await Promise.all([one.commands, one.subscriber, two.commands, two.subscriber].map((r) => r.quit()));
      },
    };
  });

  cacheContract('Redis', async () => {
    const { commands, subscriber } = await redisPair();
    await subscriber.quit();
    return { cache: createRedisCache(commands, prefix, () => {}), close: async () => void (await commands.quit()) };
  });

  it('treats an unreachable Redis as a cache miss, quickly', async () => {
    const { commands, subscriber } = await redisPair();
    await subscriber.quit();
    const errors: unknown[] = [];
    const cache = createRedisCache(commands, prefix, (e) => errors.push(e));
    commands.disconnect();
    expect(await cache.get('anything')).toBeNull();
    await cache.set('anything', 'v', 10);
    expect(errors.length).toBe(2);
  });
});
