import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq, like, sql } from 'drizzle-orm';
import { clubs, telegramLinks, users } from '../../src/db/schema.js';
import { startFakeBotApi, type FakeBotApi } from '../../test/support/telegram-bot-api.js';
import { insertSelect } from '../database.js';
import { derivedIds, insertClub, insertPastGuests, insertTables, insertUser } from '../fixtures.js';
import { graphql } from '../http.js';
import type { RunContext, Scenario, StartedServer, Summary } from '../scenario.js';

// A campaign to every guest, delivered through Telegram's Bot API (a local stand-in that
// enforces Telegram's 30 messages per second and answers 429 past it) by two instances
// with two outbox workers each. The bot may send no faster than Telegram allows, so the
// drain cannot beat recipients / 30 s: how close does it get, and does it ever send twice
// or past a pause?
const SEND = /* GraphQL */ `mutation($input: SendCampaignInput!) { sendCampaign(input: $input) { id recipients } }`;

const BOT_TOKEN = '777000:bench-bot-token';
const LIMIT_PER_S = 30;
const INSTANCES = 2;
const WORKERS_PER_INSTANCE = 2;
const TABLES = 50;
/** No new message for this long: the drain is stuck, report what arrived. */
const STALL_MS = 30_000;
/** After the last message: time for a late duplicate to show up. */
const SETTLE_MS = 2_000;
const PROGRESS_EVERY_MS = 5_000;
const REQUEST_TIMEOUT_MS = 60_000;

export const telegramDrain: Scenario = {
  name: 'telegram-drain',

  async prepare({ db, scale, tag, sign }) {
    const guests = Math.max(100, Math.round(2_000 * scale));
    const manager = await insertUser(db, `${tag}-tg-manager`, 'Bench manager');
    const clubId = (await insertClub(db, `${tag}-telegram-club`, 'Bench Telegram club')).id;
    const id = derivedIds(`${tag}-tg`);
    await insertTables(db, { id: clubId }, { count: TABLES, perRow: 10, id: id('table', 't') });
    await insertPastGuests(db, clubId, { guests, tables: TABLES, id, subjectPrefix: `${tag}-tg-user-` });
    // Guest u's chat is 900000000 + u.
    await insertSelect(db, telegramLinks, { userId: id('user', 'u'), chatId: sql`900000000 + u` }, sql`generate_series(1, ${guests}::int) u`);
    const token = await sign({ subject: manager.subject, roles: ['manager'], clubIds: [clubId] });
    return {
      kind: 'run',
      run: (ctx) => run(ctx, { clubId, token, guests }),
      async remove() {
        await db.delete(clubs).where(eq(clubs.id, clubId));
        await db.delete(users).where(like(users.subject, `${tag}-tg-%`));
      },
    };
  },
};

async function run(ctx: RunContext, setup: { clubId: string; token: string; guests: number }): Promise<Summary> {
  const api = await startFakeBotApi({ token: BOT_TOKEN, maxPerSecond: LIMIT_PER_S, retryAfterS: 1 });
  const servers: StartedServer[] = [];
  try {
    const env = {
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_BOT_USERNAME: 'nightgraph_bench_bot',
      TELEGRAM_WEBHOOK_SECRET: 'bench-telegram-webhook-secret',
      TELEGRAM_API_URL: api.url,
      TELEGRAM_MAX_PER_SECOND: String(LIMIT_PER_S),
      OUTBOX_WORKERS: String(WORKERS_PER_INSTANCE),
    };
    // Without Redis the instances could not share the bot's pace: one instance then.
    const instances = process.env.REDIS_URL ? INSTANCES : 1;
    if (instances < INSTANCES) ctx.log('no REDIS_URL: one instance (two would not share the pace)');
    for (let i = 0; i < instances; i++) servers.push(await ctx.startServer(env));
    return await drain(ctx, servers[0]!, api, setup, instances);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await api.close();
  }
}

async function drain(ctx: RunContext, server: StartedServer, api: FakeBotApi, setup: { clubId: string; token: string; guests: number }, instances: number): Promise<Summary> {
  await sleep(500);
  const sent = await graphql<{ sendCampaign: { id: string; recipients: number } }>(server.url, setup.token, SEND, {
    input: { clubId: setup.clubId, message: `Bench Telegram campaign ${new Date().toISOString()}`, idempotencyKey: `bench-tg-${Date.now()}` },
  }, REQUEST_TIMEOUT_MS);
  const answeredAt = performance.now();
  const answeredAtMs = Date.now();
  const recipients = sent.sendCampaign.recipients;
  ctx.log(`sendCampaign wrote ${recipients} rows; draining through Telegram at ≤ ${LIMIT_PER_S}/s`);
  const chats = () => new Set(api.sent.map((m) => m.chatId)).size;
  let last = 0;
  let lastChange = performance.now();
  let nextReport = performance.now() + PROGRESS_EVERY_MS;
  while (chats() < recipients) {
    ctx.signal.throwIfAborted();
    const now = performance.now();
    if (api.sent.length !== last) {
      last = api.sent.length;
      lastChange = now;
    } else if (now - lastChange > STALL_MS) {
      ctx.log(`no message for ${STALL_MS / 1000} s: giving up with ${chats()} of ${recipients}`);
      break;
    }
    if (now >= nextReport) {
      nextReport = now + PROGRESS_EVERY_MS;
      ctx.log(`${chats()} of ${recipients} chats reached after ${((now - answeredAt) / 1000).toFixed(1)} s`);
    }
    await sleep(20);
  }
  const lastAt = api.sent.at(-1)?.at ?? answeredAtMs;
  await sleep(SETTLE_MS);
  const drainS = (lastAt - answeredAtMs) / 1000;
  const idealS = recipients / LIMIT_PER_S;
  const duplicates = api.sent.length - chats();
  const firstPauseEnds = api.pausesStarted[0] === undefined ? undefined : api.pausesStarted[0] + 1_000;
  const pausesAfterFirst = firstPauseEnds === undefined ? 0 : api.pausesStarted.filter((at) => at >= firstPauseEnds).length;
  const line = [
    `telegram-drain  ${instances} instances × ${WORKERS_PER_INSTANCE} workers`,
    `${chats()} of ${recipients} chats in ${drainS.toFixed(1)} s (ideal ${idealS.toFixed(1)} s at ${LIMIT_PER_S}/s, ${(drainS / idealS).toFixed(2)}×)`,
    `${(chats() / drainS).toFixed(1)} msg/s`,
    `duplicates ${duplicates}`,
    `429s ${api.tooManyRequests} (pauses ${api.pausesStarted.length}, after the first ${pausesAfterFirst})`,
    `sent during a pause ${api.sentDuringPause} (in flight when it began ${api.inFlightAtPause})`,
  ].join('  ');
  return {
    lines: [line],
    fields: { recipients, instances, workersPerInstance: WORKERS_PER_INSTANCE, limitPerS: LIMIT_PER_S, drainS, idealS, duplicates, tooManyRequests: api.tooManyRequests, pauses: api.pausesStarted.length, pausesAfterFirst, sentDuringPause: api.sentDuringPause, inFlightAtPause: api.inFlightAtPause },
  };
}
