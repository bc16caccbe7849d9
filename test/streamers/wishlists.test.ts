import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wishlistItems } from '../../src/db/schema.js';
import { graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

describe('tracked streamers and wishlists', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('pages through tracked streamers, most recently tracked first, without gaps or repeats', async () => {
    const user = await fx.user();
    const streamers = await fx.streamers(7);
    // Two tracked in the same millisecond: the streamer id breaks the tie.
    const now = Date.now();
    await fx.track(user.id, streamers.slice(0, 5).map((s) => s.id), now);
    await fx.track(user.id, streamers.slice(5).map((s) => s.id), now);
    const token = await app.token({ subject: user.subject });
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const response: any = await graphql(
        app.url,
        `query($after: String) { me { trackedStreamers(first: 3, after: $after) { edges { trackedAt node { id } } pageInfo { hasNextPage endCursor } } } }`,
        { token, variables: { after } },
      );
      expect(response.errors).toBeUndefined();
      const connection = response.data.me.trackedStreamers;
      seen.push(...connection.edges.map((e: any) => e.node.id));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(streamers.map((s) => s.id)));
    // Streamers 0 and 5 were tracked at the same instant: the greater id comes first.
    expect(seen[0]).toBe([streamers[0]!.id, streamers[5]!.id].sort().at(-1));
  });

  it('counts and lists only items still on the wishlist, newest first, with prices as money', async () => {
    const [streamer] = await fx.streamers(1);
    const items = await fx.wishlistItems([streamer!.id], 4);
    await app.db.update(wishlistItems).set({ removedAt: new Date() }).where(eq(wishlistItems.id, items[1]!.id));
    await app.db.update(wishlistItems).set({ priceMinor: null, currency: null }).where(eq(wishlistItems.id, items[3]!.id));
    const response = await graphql(
      app.url,
      `query($id: ID!) { streamer(id: $id) { handle platform displayName wishlistItemsCount
        wishlist(first: 2) { edges { node { title price { amountMinor currency } firstSeenAt } } pageInfo { hasNextPage endCursor } } } }`,
      { variables: { id: streamer!.id } },
    );
    expect(response.errors).toBeUndefined();
    const found = response.data.streamer;
    expect(found.wishlistItemsCount).toBe(3);
    expect(found.wishlist.edges.map((e: any) => e.node.title)).toEqual(['Item 0', 'Item 2']);
    expect(found.wishlist.edges[0].node.price).toEqual({ amountMinor: 1_000, currency: 'EUR' });
    expect(found.wishlist.pageInfo.hasNextPage).toBe(true);

    const rest = await graphql(
      app.url,
      `query($id: ID!, $after: String) { streamer(id: $id) { wishlist(first: 2, after: $after) { edges { node { title price { amountMinor } } } pageInfo { hasNextPage } } } }`,
      { variables: { id: streamer!.id, after: found.wishlist.pageInfo.endCursor } },
    );
    expect(rest.data.streamer.wishlist.edges).toEqual([{ node: { title: 'Item 3', price: null } }]);
    expect(rest.data.streamer.wishlist.pageInfo.hasNextPage).toBe(false);
  });

  it('gives a streamer without items a zero count and an empty page', async () => {
    const [streamer] = await fx.streamers(1);
    const response = await graphql(app.url, `query($id: ID!) { streamer(id: $id) { wishlistItemsCount wishlist { edges { cursor } pageInfo { hasNextPage endCursor } } } }`, {
      variables: { id: streamer!.id },
    });
    expect(response.data.streamer).toEqual({ wishlistItemsCount: 0, wishlist: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } } });
  });
});
