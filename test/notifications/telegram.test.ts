import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { bookings, outbox, telegramLinks, telegramLinkTokens, users } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { realServers, startTestApp, type TestApp } from '../support/app.js';
import { startCluster, type Cluster } from '../support/cluster.js';
import { startFakeBotApi, type FakeBotApi } from '../support/telegram-bot-api.js';
import { until } from '../faults/harness.js';

const BOT_TOKEN = '424242:test-bot-token';
const SECRET = 'telegram-webhook-secret-0123';
const telegramEnv = (api: FakeBotApi, extra: Record<string, string> = {}) => ({
  TELEGRAM_BOT_TOKEN: BOT_TOKEN,
  TELEGRAM_BOT_USERNAME: 'nightgraph_test_bot',
  TELEGRAM_WEBHOOK_SECRET: SECRET,
  TELEGRAM_API_URL: api.url,
  WISHLIST_SYNC_ENABLED: 'false',
  OUTBOX_POLL_MS: '50',
  OUTBOX_RETRY_BASE_MS: '100',
  OUTBOX_RETRY_MAX_MS: '1000',
  ...extra,
});

const LINK = 'mutation { linkTelegram { url expiresAt } }';
const STATUS = '{ me { telegram { linked chatTitle linkedAt blockedAt } } }';
const SEND = 'mutation($input: SendCampaignInput!) { sendCampaign(input: $input) { id recipients } }';

/** Telegram posting an update to the webhook, as it does after `setWebhook` with `secret_token`. */
async function postUpdate(base: string, update: unknown, secret: string | null = SECRET) {
  const response = await fetch(`${base}/telegram/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret }) },
    body: JSON.stringify(update),
  });
  return response.status;
}

let updateId = 1;
const message = (chatId: number, text: string, person = { first_name: 'Ada', last_name: 'Lovelace' }) => ({
  update_id: updateId++,
  message: { message_id: updateId, date: Math.floor(Date.now() / 1000), text, chat: { id: chatId, type: 'private', ...person }, from: { id: chatId, is_bot: false, ...person } },
});
const tokenOf = (url: string) => new URL(url).searchParams.get('start')!;
const baseOf = (graphqlUrl: string) => graphqlUrl.replace(/\/graphql$/, '');

describe('Telegram, not configured', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ OUTBOX_WORKERS: '0' });
  });
  afterAll(() => app?.stop());

  it('says so with NOT_CONFIGURED, and has no webhook', async () => {
    const token = await app.token({ subject: 'no-bot-user' });
    const answer = await graphql(app.url, LINK, { token });
    expect(codes(answer)).toEqual(['NOT_CONFIGURED']);
    expect(answer.errors?.[0]?.message).toMatch(/TELEGRAM_BOT_TOKEN/);
    expect(await postUpdate(baseOf(app.url), message(1, '/stop'))).toBe(404);
  });
});

describe('linking a Telegram chat', () => {
  let api: FakeBotApi;
  let app: TestApp;
  let base: string;
  const blocked = new Set<number>();

  beforeAll(async () => {
    api = await startFakeBotApi({ token: BOT_TOKEN, maxPerSecond: 30, blocked });
    app = await startTestApp(telegramEnv(api));
    base = baseOf(app.url);
  });
  afterAll(async () => {
    await app?.stop();
    await api?.close();
  });

  const repliesTo = (chatId: number) => api.sent.filter((m) => m.chatId === chatId).map((m) => m.text);

  it('links the chat that sends /start with a fresh token, once, and answers in the chat', async () => {
    const token = await app.token({ subject: 'tg-ada' });
    const before = Date.now();
    const { data } = await graphql(app.url, LINK, { token });
    expect(data.linkTelegram.url).toMatch(/^https:\/\/t\.me\/nightgraph_test_bot\?start=[A-Za-z0-9_-]{32}$/);
    const expiresIn = new Date(data.linkTelegram.expiresAt).getTime() - before;
    expect(expiresIn).toBeGreaterThan(14 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60_000 + 1_000);
    expect((await graphql(app.url, STATUS, { token })).data.me.telegram).toEqual({ linked: false, chatTitle: null, linkedAt: null, blockedAt: null });

    // Not from Telegram: no secret, or the wrong one — refused, nothing linked.
    const start = `/start ${tokenOf(data.linkTelegram.url)}`;
    expect(await postUpdate(base, message(5001, start), null)).toBe(401);
    expect(await postUpdate(base, message(5001, start), `${SECRET}x`)).toBe(401);
    expect((await graphql(app.url, STATUS, { token })).data.me.telegram.linked).toBe(false);

    expect(await postUpdate(base, message(5001, start))).toBe(200);
    const status = (await graphql(app.url, STATUS, { token })).data.me.telegram;
    expect(status).toMatchObject({ linked: true, chatTitle: 'Ada Lovelace', blockedAt: null });
    expect(new Date(status.linkedAt).getTime()).toBeGreaterThanOrEqual(before - 1_000);
    await until('the bot to answer in the chat', () => repliesTo(5001).length === 1);
    expect(repliesTo(5001)[0]).toMatch(/^Linked/);

    // The same token again, from another chat: used, so refused, and the first chat stays linked.
    expect(await postUpdate(base, message(5002, start, { first_name: 'Mallory', last_name: 'X' }))).toBe(200);
    await until('the bot to answer the second chat', () => repliesTo(5002).length === 1);
    expect(repliesTo(5002)[0]).toMatch(/expired or was used/);
    expect((await graphql(app.url, STATUS, { token })).data.me.telegram.chatTitle).toBe('Ada Lovelace');
  });

  it('refuses an expired token', async () => {
    const token = await app.token({ subject: 'tg-late' });
    const { data } = await graphql(app.url, LINK, { token });
    // Fifteen minutes pass.
    await app.db.update(telegramLinkTokens).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(telegramLinkTokens.userId, (await userOf(app.db, 'tg-late')).id));
    expect(await postUpdate(base, message(5003, `/start ${tokenOf(data.linkTelegram.url)}`))).toBe(200);
    await until('the bot to answer', () => repliesTo(5003).length === 1);
    expect(repliesTo(5003)[0]).toMatch(/expired or was used/);
    expect((await graphql(app.url, STATUS, { token })).data.me.telegram.linked).toBe(false);
  });

  it('unlinks with /stop in the chat or unlinkTelegram', async () => {
    const token = await app.token({ subject: 'tg-stopper' });
    const link = async (chatId: number) => {
      const { data } = await graphql(app.url, LINK, { token });
      expect(await postUpdate(base, message(chatId, `/start ${tokenOf(data.linkTelegram.url)}`))).toBe(200);
      expect((await graphql(app.url, STATUS, { token })).data.me.telegram.linked).toBe(true);
    };
    await link(5004);
    expect(await postUpdate(base, message(5004, '/stop'))).toBe(200);
    expect((await graphql(app.url, STATUS, { token })).data.me.telegram).toEqual({ linked: false, chatTitle: null, linkedAt: null, blockedAt: null });
    await until('the bot to confirm', () => repliesTo(5004).some((t) => t.startsWith('Unlinked')));
    expect((await graphql(app.url, 'mutation { unlinkTelegram }', { token })).data.unlinkTelegram).toBe(false);

    await link(5005);
    expect((await graphql(app.url, 'mutation { unlinkTelegram }', { token })).data.unlinkTelegram).toBe(true);
    expect((await graphql(app.url, STATUS, { token })).data.me.telegram.linked).toBe(false);
  });

  it("sends a guest's notifications to their chat, and stops for good when the user blocks the bot", async () => {
    const fx = fixtures(app.db);
    const { clubId, nightId, tableIds } = await fx.nightWithTables(1);
    const manager = await app.token({ subject: `tg-manager-${clubId}`, roles: ['manager'], clubIds: [clubId] });
    const guests = [];
    for (const chatId of [6001, 6002]) {
      const user = await fx.user();
      await fx.booking({ nightId, tableId: tableIds[0]!, userId: user.id, status: 'cancelled' });
      await app.db.insert(telegramLinks).values({ userId: user.id, chatId, chatTitle: `chat ${chatId}` });
      guests.push({ user, chatId, token: await app.token({ subject: user.subject }) });
    }
    blocked.add(6002);
    const first = await graphql(app.url, SEND, { token: manager, variables: { input: { clubId, message: 'Doors at ten tonight' } } });
    expect(first.errors).toBeUndefined();
    await until('the campaign to be delivered', async () => (await pendingOf(app.db)) === 0);
    expect(repliesTo(6001)).toEqual(['Doors at ten tonight']);
    expect(repliesTo(6002)).toEqual([]);
    expect(api.forbidden).toBe(1);
    const status = (await graphql(app.url, STATUS, { token: guests[1]!.token })).data.me.telegram;
    expect(status).toMatchObject({ linked: false, chatTitle: 'chat 6002' });
    expect(status.blockedAt).not.toBeNull();

    // The next campaign skips the dead link: Telegram is not asked again.
    await graphql(app.url, SEND, { token: manager, variables: { input: { clubId, message: 'Last call' } } });
    await until('the second campaign to be delivered', async () => (await pendingOf(app.db)) === 0);
    expect(repliesTo(6001)).toEqual(['Doors at ten tonight', 'Last call']);
    expect(api.forbidden).toBe(1);
  });
});

/**
 * The rate policy across instances: two server processes sharing Redis on PostgreSQL
 * (embedded: one in-process instance), sending as fast as TELEGRAM_MAX_PER_SECOND lets
 * them — set above the fake's own limit, so that Telegram answers 429 — to 300 linked
 * guests, with a 500 now and then.
 */
describe('a campaign to 300 linked guests', () => {
  const GUESTS = 300;
  let api: FakeBotApi;
  let cluster: Cluster | undefined;
  let app: TestApp | undefined;
  let db: Database;
  let url: string;

  beforeAll(async () => {
    api = await startFakeBotApi({ token: BOT_TOKEN, maxPerSecond: 30, retryAfterS: 1, failEvery: 37 });
    const env = telegramEnv(api, { TELEGRAM_MAX_PER_SECOND: '40', OUTBOX_WORKERS: '2' });
    if (realServers) {
      cluster = await startCluster(env);
      await Promise.all([cluster.start(), cluster.start()]);
      db = cluster.db;
      url = cluster.instances[0]!.url;
    } else {
      app = await startTestApp(env);
      db = app.db;
      url = app.url;
    }
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await app?.stop();
    await api?.close();
  });

  it('reaches every guest exactly once, and nothing is sent while Telegram said to wait', async () => {
    const fx = fixtures(db);
    const { clubId, nightId, tableIds } = await fx.nightWithTables(1);
    const tag = randomBytes(4).toString('hex');
    const guests = await db
      .insert(users)
      .values(Array.from({ length: GUESTS }, (_, i) => ({ subject: `tg-crowd-${tag}-${i}`, displayName: `Guest ${i}` })))
      .returning({ id: users.id });
    await db.insert(bookings).values(
      guests.map((g, i) => ({ nightId, tableId: tableIds[0]!, userId: g.id, partySize: 2, status: 'cancelled' as const, idempotencyKey: `tg-${tag}-${i}`, requestHash: 'fixture' })),
    );
    await db.insert(telegramLinks).values(guests.map((g, i) => ({ userId: g.id, chatId: 700_000 + i })));

    const sign = realServers
      ? async () => (await import('../../src/platform/tokens.js')).ownTokenService(cluster!.env.JWT_SECRET!).sign({ subject: `tg-crowd-manager-${tag}`, roles: ['manager'], clubIds: [clubId] })
      : () => app!.token({ subject: `tg-crowd-manager-${tag}`, roles: ['manager'], clubIds: [clubId] });
    const sent = await graphql(url, SEND, { token: await sign(), variables: { input: { clubId, message: `Tonight: ${tag}` } } });
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendCampaign.recipients).toBe(GUESTS);

    await until('every guest to get the message', () => new Set(api.sent.map((m) => m.chatId)).size === GUESTS, 90_000);
    await until('the outbox to settle', async () => (await pendingOf(db)) === 0, 20_000);
    const perChat = new Map<number, string[]>();
    for (const m of api.sent) perChat.set(m.chatId, [...(perChat.get(m.chatId) ?? []), m.text]);
    for (let i = 0; i < GUESTS; i++) expect(perChat.get(700_000 + i), `chat ${700_000 + i}`).toEqual([`Tonight: ${tag}`]);
    expect(api.sent.length).toBe(GUESTS);
    // Sending faster than the fake allows met its 429s, and its 500s were retried …
    expect(api.tooManyRequests).toBeGreaterThan(0);
    expect(api.failed).toBeGreaterThan(0);
    // … and no instance sent while the bot was told to stay away (once the 429 could have reached it).
    expect(api.sentDuringPause).toBe(0);
  }, 120_000);
});

async function userOf(db: Database, subject: string) {
  const [user] = await db.select().from(users).where(eq(users.subject, subject));
  return user!;
}

async function pendingOf(db: Database): Promise<number> {
  const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(outbox).where(sql`${outbox.processedAt} is null and ${outbox.deadAt} is null`);
  return row!.count;
}
