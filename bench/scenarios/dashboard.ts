import { like } from 'drizzle-orm';
import { streamers, users } from '../../src/db/schema.js';
import { guestTokens } from '../fixtures.js';
import { graphqlRequest } from '../http.js';
import { rotate, type Scenario } from '../scenario.js';
import { checkTrackedEdges, insertFans, type TrackedEdge } from './fans.js';

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
  variants: [
    { label: 'batched', env: { LOADER_BATCHING: 'true' } },
    { label: 'naive', env: { LOADER_BATCHING: 'false' } },
    // The same statements by hand through postgres.js and node:http: the room left.
    { label: 'floor', env: {}, floor: 'bench/floors/dashboard.ts' },
  ],

  async prepare({ db, scale, tag, sign }) {
    const userCount = Math.max(1, Math.round(200 * scale));
    // At least one page of distinct streamers per user, whatever the scale.
    const streamerCount = Math.max(TRACKED, Math.round(500 * scale));
    await insertFans(db, { tag, prefix: '', users: userCount, streamers: streamerCount, tracked: TRACKED, stride: 53 });

    // Many viewers, so no single user's rows stay hot in every cache level.
    const tokens = await guestTokens(sign, Array.from({ length: userCount }, (_, i) => `${tag}-user-${i + 1}`));
    const requests = tokens.map((token) => graphqlRequest(query, {}, token));

    return {
      next: rotate(requests),
      check: (data) => checkTrackedEdges((data as DashboardData | null)?.me?.trackedStreamers?.edges, TRACKED),
      async remove() {
        // Tracking rows and wishlist items go with their streamer.
        await db.delete(streamers).where(like(streamers.handle, `${tag}-streamer-%`));
        await db.delete(users).where(like(users.subject, `${tag}-user-%`));
      },
    };
  },
};

interface DashboardData {
  me?: { trackedStreamers?: { edges: TrackedEdge[] } };
}
