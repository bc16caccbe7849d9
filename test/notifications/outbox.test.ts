import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox, users } from '../../src/db/schema.js';
import { claimOutboxBatch, retryDelayMs } from '../../src/modules/notifications/worker.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { eventually, sendJson, startHttpServer, type LocalHttpServer } from '../support/http.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { untilListening } from '../support/notifications.js';
import { subscribe } from '../support/ws.js';

const SEND = `mutation($input: SendCampaignInput!) { sendCampaign(input: $input) { id recipients message club { id } } }`;
const PROGRESS = `query($id: ID!) { campaign(id: $id) { recipients sent failed pending } }`;
const MAX_ATTEMPTS = 4;

describe('campaigns and webhook delivery', () => {
  let app: TestApp;
  let fx: Fixtures;
  let receiver: LocalHttpServer;
  /** Failures still to answer, per path, before the receiver answers 200. */
  const failuresLeft = new Map<string, number>();

  beforeAll(async () => {
    receiver = await startHttpServer((request, res) => {
      const left = failuresLeft.get(request.path) ?? 0;
      if (left > 0) {
        failuresLeft.set(request.path, left - 1);
        return sendJson(res, 503, { error: 'busy' });
      }
      if (request.path.startsWith('/broken')) return sendJson(res, 500, { error: 'always' });
      sendJson(res, 200, { ok: true });
    });
    app = await startTestApp({
      WISHLIST_SYNC_ENABLED: 'false',
      OUTBOX_POLL_MS: '50',
      OUTBOX_RETRY_BASE_MS: '100',
      OUTBOX_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    });
    fx = fixtures(app.db);
  });
  afterAll(async () => {
    await app?.stop();
    await receiver?.close();
  });

  /** A club with a night and table, its manager's token, and `guests` users who booked there. */
  async function clubWithGuests(guests: number) {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const [table] = await fx.tables(club.id, 1);
    const guestUsers = [];
    for (let i = 0; i < guests; i++) {
      const user = await fx.user();
      await fx.booking({ nightId: night!.id, tableId: table!.id, userId: user.id, status: i === 0 ? 'confirmed' : 'cancelled' });
      guestUsers.push(user);
    }
    const manager = await app.token({ subject: `manager-${club.id}`, roles: ['manager'], clubIds: [club.id] });
    return { club, night: night!, table: table!, guests: guestUsers, manager };
  }

  async function webhookFor(subject: string, path: string) {
    const token = await app.token({ subject });
    const response = await graphql(app.url, `mutation($url: String!) { registerWebhook(url: $url) { webhook { id } secret } }`, {
      token,
      variables: { url: `${receiver.origin}${path}` },
    });
    expect(response.errors).toBeUndefined();
    return { token, id: response.data.registerWebhook.webhook.id as string };
  }

  it('writes one notification per guest who booked at the club, once per user, and counts progress to the end', async () => {
    const { club, night, table, guests, manager } = await clubWithGuests(3);
    // A second booking by the same guest, and a guest of another club: neither adds a recipient.
    await fx.booking({ nightId: night.id, tableId: table.id, userId: guests[0]!.id, status: 'cancelled' });
    const other = await clubWithGuests(1);
    const live = await subscribe(app.url, `subscription { notifications { id kind message club { id } } }`, {}, { token: await app.token({ subject: guests[1]!.subject }) });
    await untilListening(app, guests[1]!.subject, live);

    const sent = await graphql(app.url, SEND, { token: manager, variables: { input: { clubId: club.id, message: ' Doors open at 22:00 ' } } });
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendCampaign).toMatchObject({ recipients: 3, message: 'Doors open at 22:00', club: { id: club.id } });
    const rows = await app.db.select().from(outbox).where(eq(outbox.campaignId, sent.data.sendCampaign.id));
    expect(rows.map((r) => (r.payload as { userId: string }).userId).sort()).toEqual(guests.map((g) => g.id).sort());
    expect(other.guests[0]!.id).not.toBeOneOf(rows.map((r) => (r.payload as { userId: string }).userId));

    await live.until((results) => results.length === 1);
    expect(live.results[0]!.data.notifications).toMatchObject({ kind: 'CAMPAIGN', message: 'Doors open at 22:00', club: { id: club.id } });
    await eventually(async () => {
      const progress = await graphql(app.url, PROGRESS, { token: manager, variables: { id: sent.data.sendCampaign.id } });
      return progress.data.campaign.pending === 0;
    }, 'the campaign drained');
    const progress = await graphql(app.url, PROGRESS, { token: manager, variables: { id: sent.data.sendCampaign.id } });
    expect(progress.data.campaign).toEqual({ recipients: 3, sent: 3, failed: 0, pending: 0 });
    await live.close();
  });

  it('lets only a manager of the club send campaigns and see them, and rejects bad input without writing', async () => {
    const { club, manager } = await clubWithGuests(1);
    const otherManager = await app.token({ subject: 'manager-elsewhere', roles: ['manager'], clubIds: [crypto.randomUUID()] });
    const host = await app.token({ subject: 'host-here', roles: ['host'], clubIds: [club.id] });
    const input = { clubId: club.id, message: 'Hello' };
    expect(codes(await graphql(app.url, SEND, { variables: { input } }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await graphql(app.url, SEND, { token: host, variables: { input } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, SEND, { token: otherManager, variables: { input } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, SEND, { token: manager, variables: { input: { ...input, message: '   ' } } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, SEND, { token: manager, variables: { input: { ...input, message: 'x'.repeat(1_001) } } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, SEND, { token: manager, variables: { input: { ...input, clubId: crypto.randomUUID() } } }))).toEqual(['NOT_FOUND']);
    expect(await app.db.select().from(outbox).where(eq(outbox.dedupKey, `never`))).toHaveLength(0);

    const sent = await graphql(app.url, SEND, { token: manager, variables: { input } });
    expect(codes(await graphql(app.url, PROGRESS, { token: otherManager, variables: { id: sent.data.sendCampaign.id } }))).toEqual(['FORBIDDEN']);
    expect((await graphql(app.url, PROGRESS, { token: manager, variables: { id: crypto.randomUUID() } })).data.campaign).toBeNull();
  });

  it('returns the first campaign for a retry with the same idempotency key and writes nothing more', async () => {
    const { club, manager } = await clubWithGuests(2);
    const input = { clubId: club.id, message: 'Last call', idempotencyKey: 'campaign-1' };
    const answers = await Promise.all(Array.from({ length: 5 }, () => graphql(app.url, SEND, { token: manager, variables: { input } })));
    const ids = new Set(answers.map((a) => a.data.sendCampaign.id));
    expect(ids.size).toBe(1);
    expect(await app.db.select().from(outbox).where(eq(outbox.campaignId, [...ids][0]))).toHaveLength(2);
    expect(codes(await graphql(app.url, SEND, { token: manager, variables: { input: { ...input, message: 'Other' } } }))).toEqual(['IDEMPOTENCY_KEY_REUSED']);
  });

  it('delivers to a receiver that fails three times on the fourth attempt, with the same delivery id each time', async () => {
    const { club, guests, manager } = await clubWithGuests(1);
    const path = `/flaky-${club.id}`;
    await webhookFor(guests[0]!.subject, path);
    failuresLeft.set(path, 3);
    const live = await subscribe(app.url, `subscription { notifications { id } }`, {}, { token: await app.token({ subject: guests[0]!.subject }) });
    await untilListening(app, guests[0]!.subject, live);

    const sent = await graphql(app.url, SEND, { token: manager, variables: { input: { clubId: club.id, message: 'Retry me' } } });
    await eventually(() => receiver.requests.filter((r) => r.path === path).length === 4, 'four attempts');
    const attempts = receiver.requests.filter((r) => r.path === path);
    expect(new Set(attempts.map((r) => r.headers['nightgraph-delivery'])).size).toBe(1);
    // Backoff between attempts grows.
    const gaps = attempts.slice(1).map((r, i) => r.at - attempts[i]!.at);
    expect(gaps.every((gap) => gap >= 40)).toBe(true);
    await eventually(async () => {
      const [row] = await app.db.select().from(outbox).where(eq(outbox.campaignId, sent.data.sendCampaign.id));
      return row!.processedAt !== null;
    }, 'the row marked delivered');
    const [row] = await app.db.select().from(outbox).where(eq(outbox.campaignId, sent.data.sendCampaign.id));
    expect(row).toMatchObject({ attempts: 4, deadAt: null, lastError: null });
    // The live subscriber got it on the first attempt, and not again on the retries.
    await new Promise((r) => setTimeout(r, 100));
    expect(live.results.map((r) => r.data.notifications.id)).toEqual([String(row!.id)]);
    expect(live.results[0]!.data.notifications.id).toBe(attempts[0]!.headers['nightgraph-delivery']);
    await live.close();
  });

  it('moves a notification to dead-letter after the last attempt fails, and counts it as failed', async () => {
    const { club, guests, manager } = await clubWithGuests(2);
    await webhookFor(guests[0]!.subject, `/broken-${club.id}`);
    const sent = await graphql(app.url, SEND, { token: manager, variables: { input: { clubId: club.id, message: 'Nobody home' } } });
    const id = sent.data.sendCampaign.id;
    await eventually(async () => (await graphql(app.url, PROGRESS, { token: manager, variables: { id } })).data.campaign.pending === 0, 'the campaign settled');
    expect((await graphql(app.url, PROGRESS, { token: manager, variables: { id } })).data.campaign).toEqual({ recipients: 2, sent: 1, failed: 1, pending: 0 });
    expect(receiver.requests.filter((r) => r.path === `/broken-${club.id}`)).toHaveLength(MAX_ATTEMPTS);
    const dead = (await app.db.select().from(outbox).where(eq(outbox.campaignId, id))).find((r) => r.deadAt !== null)!;
    expect(dead.attempts).toBe(MAX_ATTEMPTS);
    expect(dead.lastError).toMatch(/HTTP 500/);
    expect(dead.deliveredTo).toEqual(['live']);
    const metrics = await (await fetch(app.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/nightgraph_outbox_rows_total\{outcome="dead"\} [1-9]/);
    expect(metrics).toMatch(/nightgraph_outbox_dead [1-9]/);
  });

  it('registers, lists and deletes webhooks for their owner only, and rejects bad URLs', async () => {
    const owner = await app.token({ subject: 'hook-owner' });
    const register = (url: string, token = owner) => graphql(app.url, `mutation($url: String!) { registerWebhook(url: $url) { webhook { id url } secret } }`, { token, variables: { url } });
    expect(codes(await register('https://example.test/a', ''))).toEqual(['UNAUTHENTICATED']);
    for (const bad of ['not a url', 'ftp://example.test/x', 'javascript:alert(1)', `https://example.test/${'x'.repeat(2_000)}`]) {
      expect(codes(await register(bad)), bad).toEqual(['BAD_USER_INPUT']);
    }
    const first = await register('https://example.test/a');
    expect(first.data.registerWebhook.secret).toMatch(/^whsec_/);
    expect(codes(await register('https://example.test/a'))).toEqual(['CONFLICT']);
    const listed = await graphql(app.url, `{ me { webhooks { id url createdAt } } }`, { token: owner });
    expect(listed.data.me.webhooks).toMatchObject([{ id: first.data.registerWebhook.webhook.id, url: 'https://example.test/a' }]);
    const remove = (id: string, token = owner) => graphql(app.url, `mutation($id: ID!) { deleteWebhook(id: $id) }`, { token, variables: { id } });
    const stranger = await app.token({ subject: 'hook-stranger' });
    expect((await remove(first.data.registerWebhook.webhook.id, stranger)).data.deleteWebhook).toBe(false);
    expect((await remove(first.data.registerWebhook.webhook.id)).data.deleteWebhook).toBe(true);
    expect((await remove(first.data.registerWebhook.webhook.id)).data.deleteWebhook).toBe(false);
    expect((await graphql(app.url, `{ me { webhooks { id } } }`, { token: owner })).data.me.webhooks).toEqual([]);
  });
});

describe('claiming outbox rows', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ OUTBOX_WORKERS: '0', WISHLIST_SYNC_ENABLED: 'false' });
  });
  afterAll(() => app?.stop());

  it('never gives a row to two concurrent claimers in the same attempt', async () => {
    const [user] = await app.db.insert(users).values({ subject: 'claims' }).returning();
    const rows = await app.db
      .insert(outbox)
      .values(Array.from({ length: 600 }, (_, i) => ({ topic: 'notification', dedupKey: `claim-test-${i}`, payload: { kind: 'CAMPAIGN', userId: user!.id, message: 'x' } })))
      .returning({ id: outbox.id });
    const claimed: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (;;) {
          const batch = await claimOutboxBatch(app.db, 25, 60);
          if (batch.rows.length === 0) return;
          claimed.push(...batch.rows.map((r) => r.id));
        }
      }),
    );
    expect(claimed).toHaveLength(600);
    expect(new Set(claimed).size).toBe(600);
    const after = await app.db.select().from(outbox).where(inArray(outbox.id, rows.map((r) => r.id)));
    expect(after.every((r) => r.attempts === 1 && r.leaseToken !== null)).toBe(true);
  });

  it('backs off exponentially with jitter, within the cap', () => {
    const settings = { retryBaseMs: 1_000, retryMaxMs: 60_000 };
    for (let i = 0; i < 200; i++) {
      const first = retryDelayMs(1, settings);
      const third = retryDelayMs(3, settings);
      expect(first).toBeGreaterThanOrEqual(500);
      expect(first).toBeLessThanOrEqual(1_000);
      expect(third).toBeGreaterThanOrEqual(2_000);
      expect(third).toBeLessThanOrEqual(4_000);
      expect(retryDelayMs(40, settings)).toBeLessThanOrEqual(60_000);
    }
  });
});
