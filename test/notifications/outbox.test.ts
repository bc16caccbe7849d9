import { count, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaigns, outbox, users } from '../../src/db/schema.js';
import { claimOutboxBatch, retryDelayMs } from '../../src/modules/notifications/worker.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { eventually, sendJson, startHttpServer, type LocalHttpServer } from '../support/http.js';
import { realServers, startTestApp, type TestApp } from '../support/app.js';
import { latch, within } from '../support/bounded.js';
import { untilListening } from '../support/notifications.js';
import { subscribe } from '../support/ws.js';

const SEND = `mutation($input: SendCampaignInput!) { sendCampaign(input: $input) { id recipients message club { id } } }`;
const PROGRESS = `query($id: ID!) { campaign(id: $id) { recipients sent failed pending } }`;
const MAX_ATTEMPTS = 4;
const RETRY_BASE_MS = 100;

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
      OUTBOX_RETRY_BASE_MS: String(RETRY_BASE_MS),
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
    const response = await graphql(app.url, `mutation($url: String!) { registerWebhook(input: { url: $url }) { webhook { id } secret } }`, {
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
    const written = async () => {
      const [[rows], [sent]] = await Promise.all([app.db.select({ n: count() }).from(outbox), app.db.select({ n: count() }).from(campaigns)]);
      return { outbox: rows!.n, campaigns: sent!.n };
    };
    const before = await written();
    expect(codes(await graphql(app.url, SEND, { variables: { input } }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await graphql(app.url, SEND, { token: host, variables: { input } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, SEND, { token: otherManager, variables: { input } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, SEND, { token: manager, variables: { input: { ...input, message: '   ' } } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, SEND, { token: manager, variables: { input: { ...input, message: 'x'.repeat(1_001) } } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, SEND, { token: manager, variables: { input: { ...input, clubId: crypto.randomUUID() } } }))).toEqual(['NOT_FOUND']);
    expect(await written()).toEqual(before);

    // The same call, allowed and well-formed, writes: the counts above can move.
    const sent = await graphql(app.url, SEND, { token: manager, variables: { input } });
    expect(await written()).toEqual({ outbox: before.outbox + 1, campaigns: before.campaigns + 1 });
    expect(codes(await graphql(app.url, PROGRESS, { token: otherManager, variables: { id: sent.data.sendCampaign.id } }))).toEqual(['FORBIDDEN']);
    expect((await graphql(app.url, PROGRESS, { token: manager, variables: { id: crypto.randomUUID() } })).data.campaign).toBeNull();
  });

  it('returns the first campaign for a replay with the same idempotency key and writes nothing more', async () => {
    const { club, manager } = await clubWithGuests(2);
    const input = { clubId: club.id, message: 'Last call', idempotencyKey: 'campaign-1' };
    const first = await graphql(app.url, SEND, { token: manager, variables: { input } });
    const again = await graphql(app.url, SEND, { token: manager, variables: { input } });
    expect(again.data.sendCampaign.id).toBe(first.data.sendCampaign.id);
    expect(await app.db.select().from(outbox).where(eq(outbox.campaignId, first.data.sendCampaign.id))).toHaveLength(2);
    expect(await app.db.select().from(campaigns).where(eq(campaigns.clubId, club.id))).toHaveLength(1);
    expect(codes(await graphql(app.url, SEND, { token: manager, variables: { input: { ...input, message: 'Other' } } }))).toEqual(['IDEMPOTENCY_KEY_REUSED']);
  });

  // PGlite runs one transaction at a time: concurrent sends there arrive one after another.
  it.skipIf(!realServers)('counts 20 concurrent sends with one idempotency key as one campaign (needs real PostgreSQL: PGlite runs one transaction at a time)', async () => {
    const { club, manager } = await clubWithGuests(2);
    const input = { clubId: club.id, message: 'Doors close', idempotencyKey: 'campaign-race' };
    const answers = await Promise.all(Array.from({ length: 20 }, () => graphql(app.url, SEND, { token: manager, variables: { input } })));
    expect(answers.flatMap((a) => a.errors ?? [])).toEqual([]);
    const ids = new Set(answers.map((a) => a.data.sendCampaign.id));
    expect(ids.size).toBe(1);
    expect(await app.db.select().from(campaigns).where(eq(campaigns.clubId, club.id))).toHaveLength(1);
    expect(await app.db.select().from(outbox).where(eq(outbox.campaignId, [...ids][0]))).toHaveLength(2);
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
    // Backoff between attempts grows: the wait after failed attempt k is drawn from
    // [base·2^(k−1)/2, base·2^(k−1)], so each gap is at least twice the previous lower bound.
    // Lower bounds only: a slow machine makes gaps longer, never shorter.
    const gaps = attempts.slice(1).map((r, i) => r.at - attempts[i]!.at);
    const floors = gaps.map((_, i) => (RETRY_BASE_MS * 2 ** i) / 2);
    expect(gaps.map((gap, i) => gap >= floors[i]!), `gaps ${gaps.join(', ')} ms against floors ${floors.join(', ')} ms`).toEqual([true, true, true]);
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
    const register = (url: string, token = owner) => graphql(app.url, `mutation($url: String!) { registerWebhook(input: { url: $url }) { webhook { id url } secret } }`, { token, variables: { url } });
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

describe('outbox backoff', () => {
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

// PGlite runs one statement at a time: claimers there take turns, and would pass without any lock.
describe.skipIf(!realServers)('claiming outbox rows concurrently (needs real PostgreSQL: PGlite runs one statement at a time, so nothing can race)', () => {
  let app: TestApp;
  let userId: string;
  beforeAll(async () => {
    app = await startTestApp({ OUTBOX_WORKERS: '0', WISHLIST_SYNC_ENABLED: 'false', DB_POOL_MAX: '12' });
    const [user] = await app.db.insert(users).values({ subject: 'claims' }).returning();
    userId = user!.id;
  });
  afterAll(() => app?.stop());

  const due = (n: number, prefix: string) =>
    app.db
      .insert(outbox)
      .values(Array.from({ length: n }, (_, i) => ({ topic: 'notification', dedupKey: `${prefix}-${i}`, payload: { kind: 'CAMPAIGN', userId, message: 'x' } })))
      .returning({ id: outbox.id });

  it('never gives a row to two of 8 concurrent claimers in the same attempt', async () => {
    const rows = await due(600, 'claim-test');
    const claimedBy: number[][] = Array.from({ length: 8 }, () => []);
    await Promise.all(
      claimedBy.map(async (mine) => {
        for (;;) {
          const batch = await claimOutboxBatch(app.db, 25, 60);
          if (batch.rows.length === 0) return;
          mine.push(...batch.rows.map((r) => r.id));
        }
      }),
    );
    const claimed = claimedBy.flat();
    expect(claimed).toHaveLength(600);
    expect(new Set(claimed).size).toBe(600);
    // They did claim side by side: more than one claimer got rows.
    expect(claimedBy.filter((mine) => mine.length > 0).length).toBeGreaterThan(1);
    const after = await app.db.select().from(outbox).where(inArray(outbox.id, rows.map((r) => r.id)));
    expect(after.every((r) => r.attempts === 1 && r.leaseToken !== null)).toBe(true);
  });

  it('takes the rows nobody is claiming while another claimer holds its rows locked, without waiting for them', async () => {
    const rows = (await due(10, 'skip-test')).map((r) => r.id).sort((a, b) => a - b);
    const locked = rows.slice(0, 5);
    const holding = latch();
    const release = latch();
    // Another claimer, mid-claim: its rows locked by a transaction that has not committed.
    const other = app.db.transaction(async (tx) => {
      await tx.select({ id: outbox.id }).from(outbox).where(inArray(outbox.id, locked)).for('update');
      holding.open();
      await release.wait;
    });
    try {
      await holding.wait;
      // Without SKIP LOCKED this claim would wait for the other transaction: the bound fails it.
      const batch = await within(5_000, 'a claim beside locked rows', claimOutboxBatch(app.db, 10, 60));
      expect(batch.rows.map((r) => r.id)).toEqual(rows.slice(5));
    } finally {
      release.open();
      await other;
    }
    const after = await app.db.select().from(outbox).where(inArray(outbox.id, locked));
    expect(after.map((r) => r.attempts)).toEqual([0, 0, 0, 0, 0]);
  });
});
