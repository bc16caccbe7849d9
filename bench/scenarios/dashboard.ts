import { like, sql } from 'drizzle-orm';
import { streamers, userStreamers, users, wishlistItems } from '../../src/db/schema.js';
import { insertSelect } from '../database.js';
import { graphqlRequest, rotate, type Scenario } from '../scenario.js';

// A viewer's dashboard: 50 tracked streamers, each with its item count and newest 5 items.
const query = /* GraphQL */ `
  {
    me {
      trackedStreamers(first: 50) {
        edges {
          trackedAt
          node {
            id handle displayName wishlistItemsCount
            wishlist(first: 5) { edges { node { id title price { amountMinor currency } } } }
          }
        }
      }
    }
  }
`;

const TRACKED = 50;

export const dashboard: Scenario = {
  name: 'dashboard',

  async prepare({ db, scale, tag, sign }) {
    const userCount = Math.max(1, Math.round(200 * scale));
    // At least one page of distinct streamers per user, whatever the scale.
    const streamerCount = Math.max(TRACKED, Math.round(500 * scale));
    // Ids derived from the row number let every table refer to another without a join.
    const userId = (n: string) => sql`md5(${tag} || '-user-' || ${sql.raw(n)})::uuid`;
    const streamerId = (n: string) => sql`md5(${tag} || '-streamer-' || ${sql.raw(n)})::uuid`;

    await insertSelect(
      db,
      users,
      { id: userId('u'), subject: sql`${tag} || '-user-' || u`, displayName: sql`'Bench user ' || u` },
      sql`generate_series(1, ${userCount}::int) u`,
    );
    await insertSelect(
      db,
      streamers,
      {
        id: streamerId('s'),
        platform: sql`'twitch'`,
        handle: sql`${tag} || '-streamer-' || s`,
        displayName: sql`'Streamer ' || s`,
      },
      sql`generate_series(1, ${streamerCount}::int) s`,
    );
    // 5–20 live items per streamer, item 1 the newest; every seventh has no price.
    await insertSelect(
      db,
      wishlistItems,
      {
        streamerId: streamerId('s'),
        externalId: sql`'item-' || i`,
        title: sql`'Item ' || i || ' of streamer ' || s`,
        priceMinor: sql`case when i % 7 = 0 then null else 500 + i * 100 end`,
        currency: sql`case when i % 7 = 0 then null else 'EUR' end`,
        firstSeenAt: sql`now() - i * interval '1 hour'`,
      },
      sql`generate_series(1, ${streamerCount}::int) s cross join lateral generate_series(1, 5 + (s * 7) % 16) i`,
    );
    // User u tracks 50 consecutive streamers from a user-specific offset, so lists overlap
    // (as popular streamers do) without being identical.
    await insertSelect(
      db,
      userStreamers,
      {
        userId: userId('u'),
        streamerId: streamerId(`((u * 53 + j) % ${streamerCount} + 1)`),
        trackedAt: sql`now() - j * interval '1 minute'`,
      },
      sql`generate_series(1, ${userCount}::int) u cross join generate_series(0, ${TRACKED - 1}) j`,
    );

    // Many viewers, so no single user's rows stay hot in every cache level.
    const requests = await Promise.all(
      Array.from({ length: userCount }, async (_, i) =>
        graphqlRequest(query, {}, await sign({ subject: `${tag}-user-${i + 1}`, roles: ['guest'], clubIds: [] })),
      ),
    );

    return {
      next: rotate(requests),
      check(data) {
        const edges = (data as DashboardData | null)?.me?.trackedStreamers?.edges;
        if (edges?.length !== TRACKED) return `expected ${TRACKED} tracked streamers, got ${edges?.length}`;
        for (const { node } of edges) {
          if (node.wishlistItemsCount < 5 || node.wishlistItemsCount > 20) {
            return `streamer ${node.handle} has ${node.wishlistItemsCount} items, expected 5–20`;
          }
          if (node.wishlist.edges.length !== 5) return `streamer ${node.handle} shows ${node.wishlist.edges.length} items, expected 5`;
        }
        return undefined;
      },
      async remove() {
        // Tracking rows and wishlist items go with their streamer.
        await db.delete(streamers).where(like(streamers.handle, `${tag}-streamer-%`));
        await db.delete(users).where(like(users.subject, `${tag}-user-%`));
      },
    };
  },
};

interface DashboardData {
  me?: {
    trackedStreamers?: {
      edges: { node: { handle: string; wishlistItemsCount: number; wishlist: { edges: unknown[] } } }[];
    };
  };
}
