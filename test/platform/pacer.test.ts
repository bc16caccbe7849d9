import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryPacer, createRedisPacer, type Pacer } from '../../src/platform/pacer.js';
import { realRedis } from '../support/app.js';
import { deleteKeys } from '../support/app.js';

const bot = { key: 'bot', intervalMs: 100 };
const chat = (id: number) => ({ key: `chat:${id}`, intervalMs: 1_000 });

describe('the pacer (in memory, on a clock of its own)', () => {
  let now = 1_000_000;
  const pacer = createMemoryPacer(() => now);

  it('hands out slots one interval apart, in every lane at once or in none', async () => {
    const waits = [];
    for (let i = 0; i < 5; i++) waits.push(await pacer.reserve([bot, chat(i)], 10_000, 'pause'));
    expect(waits).toEqual([0, 100, 200, 300, 400].map((waitMs) => ({ kind: 'slot', waitMs })));
    // Chat 0's next slot is a second after its first, later than the bot's next.
    expect(await pacer.reserve([bot, chat(0)], 10_000, 'pause')).toEqual({ kind: 'slot', waitMs: 1_000 });
    // Too far off: nothing reserved, so the bot's next slot is still 1,100 ms away.
    expect(await pacer.reserve([bot, chat(0)], 500, 'pause')).toEqual({ kind: 'later', retryInMs: 1_500, paused: false });
    expect(await pacer.reserve([bot, chat(99)], 10_000, 'pause')).toEqual({ kind: 'slot', waitMs: 1_100 });
  });

  it('closes every lane while paused, never shortening a longer pause', async () => {
    now += 10_000;
    await pacer.pause('pause', 2_000);
    await pacer.pause('pause', 500);
    expect(await pacer.pausedFor('pause')).toBe(2_000);
    expect(await pacer.reserve([bot], 10_000, 'pause')).toEqual({ kind: 'later', retryInMs: 2_000, paused: true });
    now += 2_000;
    expect(await pacer.pausedFor('pause')).toBe(0);
    expect(await pacer.reserve([bot], 10_000, 'pause')).toEqual({ kind: 'slot', waitMs: 0 });
  });
});

describe.skipIf(!realRedis)('the pacer on Redis (skipped embedded: it needs REDIS_URL)', () => {
  const prefix = `nightgraph-test:${randomBytes(6).toString('hex')}:`;
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    if (realRedis) await deleteKeys(process.env.REDIS_URL!, prefix);
  });
  const instance = (): Pacer => {
    const client = new Redis(process.env.REDIS_URL!);
    clients.push(client);
    return createRedisPacer(client, prefix, (error) => {
      throw error;
    });
  };

  it('gives two instances asking at once slots that never share an interval, and one pause', async () => {
    const [a, b] = [instance(), instance()];
    const lane = { key: 'shared-bot', intervalMs: 20 };
    const asked = Date.now();
    const slots = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).reserve([lane], 10_000, 'shared-pause')));
    const at = slots.map((s) => (s.kind === 'slot' ? s.waitMs : Number.NaN)).sort((x, y) => x - y);
    expect(at.every(Number.isFinite)).toBe(true);
    // Each answer is relative to when Redis took it; the requests all left within a few ms.
    const spread = Date.now() - asked;
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(20 - spread);
    expect(at.at(-1)! - at[0]!).toBeGreaterThanOrEqual(39 * 20 - spread);

    await a.pause('shared-pause', 5_000);
    const seen = await b.reserve([lane], 10_000, 'shared-pause');
    expect(seen).toMatchObject({ kind: 'later', paused: true });
    expect(await b.pausedFor('shared-pause')).toBeGreaterThan(4_000);
  });
});
