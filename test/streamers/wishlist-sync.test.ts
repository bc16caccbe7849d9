import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox, streamers, wishlistItems } from '../../src/db/schema.js';
import { verifySignature } from '../../src/modules/notifications/webhook.js';
import { parseWishlist } from '../../src/modules/streamers/source.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { eventually, sendJson, startHttpServer, type LocalHttpServer } from '../support/http.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';
import { untilListening } from '../support/notifications.js';

const SYNC = `mutation($id: ID!) { syncStreamer(id: $id) { id lastSyncedAt lastSyncError wishlistItemsCount } }`;
const item = (id: string, title: string, amountMinor: number | null = 1_000) => ({
  id,
  title,
  price: amountMinor === null ? null : { amountMinor, currency: 'EUR' },
  url: `https://shop.example/${id}`,
  imageUrl: null,
});

describe('wishlist sync', () => {
  let app: TestApp;
  let fx: Fixtures;
  let source: LocalHttpServer;
  let receiver: LocalHttpServer;
  /** What the source answers per path: a document, or a behaviour. */
  const documents = new Map<string, unknown>();
  let adminToken: string;

  beforeAll(async () => {
    source = await startHttpServer((request, res) => {
      const answer = documents.get(request.path);
      if (answer === 'hang') return; // never answers
      if (answer === 'garbage') return sendJson(res, 200, '<html>not a wishlist</html>');
      if (typeof answer === 'number') return sendJson(res, answer, { error: 'nope' });
      sendJson(res, answer === undefined ? 404 : 200, answer ?? {});
    });
    receiver = await startHttpServer((_request, res) => sendJson(res, 200, { ok: true }));
    app = await startTestApp({
      WISHLIST_SYNC_ENABLED: 'false',
      WISHLIST_SYNC_TIMEOUT_MS: '300',
      WISHLIST_SYNC_RETRIES: '1',
      OUTBOX_POLL_MS: '100',
    });
    fx = fixtures(app.db);
    adminToken = await app.token({ subject: 'sync-admin', roles: ['admin'] });
  });
  afterAll(async () => {
    await app?.stop();
    await source?.close();
    await receiver?.close();
  });

  async function fan(name: string, streamerId: string) {
    const token = await app.token({ subject: `${name}-${streamerId}` });
    expect((await graphql(app.url, `mutation($id: ID!) { trackStreamer(streamerId: $id) { id } }`, { token, variables: { id: streamerId } })).errors).toBeUndefined();
    const registered = await graphql(app.url, `mutation($url: String!) { registerWebhook(url: $url) { webhook { id url } secret } }`, {
      token,
      variables: { url: `${receiver.origin}/hooks/${name}-${streamerId}` },
    });
    expect(registered.errors).toBeUndefined();
    return { token, secret: registered.data.registerWebhook.secret as string, path: `/hooks/${name}-${streamerId}` };
  }

  const deliveriesTo = (path: string) => receiver.requests.filter((r) => r.path === path);

  it('notifies each tracker of each new item once, by subscription and webhook; marks removed items; records price changes', async () => {
    const [streamer] = await fx.streamers(1, () => ({ wishlistUrl: `${source.origin}/lists/main` }));
    const ada = await fan('ada', streamer!.id);
    const bob = await fan('bob', streamer!.id);
    const bystander = await fan('cy', (await fx.streamers(1))[0]!.id);
    const live = await subscribe(app.url, `subscription { notifications { id kind message streamer { id } wishlistItem { title } } }`, {}, { token: ada.token });
    await untilListening(app, `ada-${streamer!.id}`, live);

    documents.set('/lists/main', { items: [item('a', 'Headphones', 1_000), item('b', 'Desk lamp', 2_500)] });
    const first = await graphql(app.url, SYNC, { token: adminToken, variables: { id: streamer!.id } });
    expect(first.errors).toBeUndefined();
    expect(first.data.syncStreamer).toMatchObject({ lastSyncError: null, wishlistItemsCount: 2 });
    expect(first.data.syncStreamer.lastSyncedAt).not.toBeNull();

    await eventually(() => deliveriesTo(ada.path).length === 2 && deliveriesTo(bob.path).length === 2, 'two webhook deliveries per fan');
    await live.until((results) => results.length === 2);
    for (const [who, { path, secret }] of [['ada', ada], ['bob', bob]] as const) {
      for (const request of deliveriesTo(path)) {
        expect(verifySignature(secret, request.body, request.headers['nightgraph-signature'] as string), who).toBe(true);
        const body = JSON.parse(request.body);
        expect(request.headers['nightgraph-delivery']).toBe(body.id);
        expect(request.headers['nightgraph-event']).toBe('WISHLIST_ITEM_ADDED');
        expect(body).toMatchObject({ kind: 'WISHLIST_ITEM_ADDED', streamerId: streamer!.id });
      }
    }
    expect(deliveriesTo(ada.path).map((r) => JSON.parse(r.body).item.title).sort()).toEqual(['Desk lamp', 'Headphones']);
    // The subscription and the webhook carry the same notification ids.
    expect(live.results.map((r) => r.data.notifications.id).sort()).toEqual(deliveriesTo(ada.path).map((r) => r.headers['nightgraph-delivery']).sort());
    expect(live.results.map((r) => r.data.notifications.wishlistItem.title).sort()).toEqual(['Desk lamp', 'Headphones']);
    expect(live.results[0]!.data.notifications).toMatchObject({ kind: 'WISHLIST_ITEM_ADDED', streamer: { id: streamer!.id } });
    expect(deliveriesTo(bystander.path)).toHaveLength(0);

    // Headphones get cheaper, the lamp goes, a chair arrives.
    documents.set('/lists/main', { items: [item('a', 'Headphones', 900), item('c', 'Chair', 12_000)] });
    expect((await graphql(app.url, SYNC, { token: adminToken, variables: { id: streamer!.id } })).errors).toBeUndefined();
    await eventually(() => deliveriesTo(ada.path).length === 3 && deliveriesTo(bob.path).length === 3, 'the new item delivered to each fan');
    await live.until((results) => results.length === 3);
    expect(JSON.parse(deliveriesTo(bob.path)[2]!.body).item).toMatchObject({ title: 'Chair', price: { amountMinor: 12_000, currency: 'EUR' } });

    const rows = await app.db.select().from(wishlistItems).where(eq(wishlistItems.streamerId, streamer!.id));
    const byExternal = new Map(rows.map((r) => [r.externalId, r]));
    expect(byExternal.get('b')!.removedAt).not.toBeNull();
    expect(byExternal.get('a')!.removedAt).toBeNull();
    const view = await graphql(
      app.url,
      `query($id: ID!) { streamer(id: $id) { wishlistItemsCount wishlist(first: 10) { edges { node { title price { amountMinor }
        priceChanges { from { amountMinor currency } to { amountMinor currency } changedAt } } } } } }`,
      { variables: { id: streamer!.id } },
    );
    expect(view.data.streamer.wishlistItemsCount).toBe(2);
    const headphones = view.data.streamer.wishlist.edges.map((e: any) => e.node).find((n: any) => n.title === 'Headphones');
    expect(headphones.price).toEqual({ amountMinor: 900 });
    expect(headphones.priceChanges).toMatchObject([{ from: { amountMinor: 1_000, currency: 'EUR' }, to: { amountMinor: 900, currency: 'EUR' } }]);

    // The same list again changes nothing and notifies no one.
    expect((await graphql(app.url, SYNC, { token: adminToken, variables: { id: streamer!.id } })).errors).toBeUndefined();
    const written = await app.db.select().from(outbox);
    expect(written.filter((r) => (r.payload as { streamerId?: string }).streamerId === streamer!.id)).toHaveLength(6);
    await eventually(async () => (await app.db.select().from(outbox)).every((r) => r.processedAt !== null), 'the outbox drained');
    expect(deliveriesTo(ada.path)).toHaveLength(3);
    expect(live.results).toHaveLength(3);
    await live.close();
  });

  it.each([
    ['the source is down', 'down', /could not be reached/],
    ['the source answers 500', 500, /HTTP 500/],
    ['the source answers 404', 404, /HTTP 404/],
    ['the source answers HTML', 'garbage', /did not answer JSON/],
    ['the source answers JSON of another shape', { items: [{ id: 'x' }] }, /not a wishlist \(items\.0\.title/],
    ['the source lists an item twice', { items: [item('x', 'One'), item('x', 'Two')] }, /lists item "x" twice/],
    ['the source gives a negative price', { items: [{ ...item('x', 'One'), price: { amountMinor: -5, currency: 'EUR' } }] }, /not a wishlist/],
    ['the source never answers', 'hang', /did not answer within 300 ms/],
  ])('records the error and changes nothing else when %s', async (_name, behaviour, error) => {
    const path = `/lists/broken-${Math.random().toString(36).slice(2)}`;
    const url = behaviour === 'down' ? 'http://127.0.0.1:9/unreachable' : `${source.origin}${path}`;
    const [streamer] = await fx.streamers(1, () => ({ wishlistUrl: url }));
    const before = await fx.wishlistItems([streamer!.id], 2);
    const syncedAt = new Date(Date.now() - 3_600_000);
    await app.db.update(streamers).set({ lastSyncedAt: syncedAt }).where(eq(streamers.id, streamer!.id));
    await fan('dee', streamer!.id);
    const outboxBefore = (await app.db.select().from(outbox)).length;
    if (behaviour !== 'down') documents.set(path, behaviour);

    const response = await graphql(app.url, SYNC, { token: adminToken, variables: { id: streamer!.id } });
    expect(response.errors).toBeUndefined();
    expect(response.data.syncStreamer.lastSyncError).toMatch(error);
    expect(new Date(response.data.syncStreamer.lastSyncedAt).getTime()).toBe(syncedAt.getTime());
    const after = await app.db.select().from(wishlistItems).where(eq(wishlistItems.streamerId, streamer!.id));
    expect(after.map(({ updatedAt, ...rest }) => rest).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      before.map(({ updatedAt, ...rest }) => rest).sort((a, b) => a.id.localeCompare(b.id)),
    );
    expect(await app.db.select().from(outbox)).toHaveLength(outboxBefore);

    // Once the source is fixed, the next sync clears the error.
    if (behaviour !== 'down') {
      documents.set(path, { items: [item('item-0', 'Item 0', 1_000)] });
      const fixed = await graphql(app.url, SYNC, { token: adminToken, variables: { id: streamer!.id } });
      expect(fixed.data.syncStreamer.lastSyncError).toBeNull();
      expect(fixed.data.syncStreamer.wishlistItemsCount).toBe(1);
    }
  });

  it('lets only admins force a sync, of a streamer that has a wishlist URL', async () => {
    const [withUrl] = await fx.streamers(1, () => ({ wishlistUrl: `${source.origin}/lists/auth` }));
    const [withoutUrl] = await fx.streamers(1);
    const guest = await app.token({ subject: 'sync-guest' });
    expect(codes(await graphql(app.url, SYNC, { variables: { id: withUrl!.id } }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await graphql(app.url, SYNC, { token: guest, variables: { id: withUrl!.id } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, SYNC, { token: adminToken, variables: { id: withoutUrl!.id } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, SYNC, { token: adminToken, variables: { id: 'nope' } }))).toEqual(['NOT_FOUND']);
  });

  it('refuses a forced sync while another holds the lease', async () => {
    const [streamer] = await fx.streamers(1, () => ({ wishlistUrl: `${source.origin}/lists/leased` }));
    await app.db
      .update(streamers)
      .set({ syncLeaseToken: crypto.randomUUID(), syncLeaseUntil: new Date(Date.now() + 60_000), syncLeaseOwner: 'elsewhere:1' })
      .where(eq(streamers.id, streamer!.id));
    expect(codes(await graphql(app.url, SYNC, { token: adminToken, variables: { id: streamer!.id } }))).toEqual(['CONFLICT']);
  });
});

describe('the wishlist sync schedule', () => {
  let app: TestApp;
  let source: LocalHttpServer;
  beforeAll(async () => {
    source = await startHttpServer((_request, res) => sendJson(res, 200, { items: [item('one', 'One')] }));
    app = await startTestApp({ WISHLIST_SYNC_INTERVAL_SECONDS: '2', WISHLIST_SYNC_POLL_SECONDS: '0.1' });
  });
  afterAll(async () => {
    await app?.stop();
    await source?.close();
  });

  it('syncs a due streamer by itself, then again only once the interval has passed', async () => {
    const [streamer] = await fixtures(app.db).streamers(1, () => ({ wishlistUrl: `${source.origin}/lists/scheduled` }));
    const settled = async () => {
      const [row] = await app.db.select().from(streamers).where(eq(streamers.id, streamer!.id));
      return row!.lastSyncedAt !== null && row!.syncLeaseToken === null ? row! : null;
    };
    await eventually(async () => source.requests.length >= 2 && (await settled()) !== null, 'two scheduled syncs, the second applied', 15_000);
    const [first, second] = source.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_950);
    expect((await settled())!.lastSyncError).toBeNull();
  });
});

describe('reading a wishlist document', () => {
  it('accepts numeric ids, missing prices and links, and rejects what is not a wishlist', () => {
    expect(parseWishlist(JSON.stringify({ items: [{ id: 7, title: ' Mug ' }] }))).toEqual([
      { externalId: '7', title: 'Mug', priceMinor: null, currency: null, url: null, imageUrl: null },
    ]);
    expect(parseWishlist('{"items":[]}')).toEqual([]);
    for (const bad of ['[]', '{}', '{"items":{}}', '{"items":[{"id":"a","title":"t","price":{"amountMinor":1.5,"currency":"EUR"}}]}',
      '{"items":[{"id":"a","title":"t","url":"javascript:alert(1)"}]}', '{"items":[{"id":"a","title":"t","price":{"amountMinor":1,"currency":"euro"}}]}']) {
      expect(() => parseWishlist(bad), bad).toThrow(/not a wishlist/);
    }
  });
});
