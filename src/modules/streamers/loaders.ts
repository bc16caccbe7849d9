import { and, count, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { streamers, userStreamers, users, wishlistItems } from '../../db/schema.js';
import { pageLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';
import type { PageRequest } from '../../graphql/pagination.js';

export function createStreamerLoaders(db: Database, options: BatchOptions) {
  const streamerById = rowLoader(
    (ids) => db.select().from(streamers).where(inArray(streamers.id, ids)),
    (s) => s.id,
    options,
  );

  const wishlistCountByStreamer = rowLoader(
    (ids) =>
      db
        .select({ streamerId: wishlistItems.streamerId, count: count() })
        .from(wishlistItems)
        .where(and(inArray(wishlistItems.streamerId, ids), isNull(wishlistItems.removedAt)))
        .groupBy(wishlistItems.streamerId),
    (row) => row.streamerId,
    options,
  );

  const wishlistPageByStreamer = pageLoader(
    (streamerIds, page) => selectWishlistPages(db, streamerIds, page),
    (item) => item.streamerId,
    options,
  );

  const trackedStreamersByUser = pageLoader(
    async (userIds, page) => {
      const rows = await selectTrackedPages(db, userIds, page);
      for (const row of rows) streamerById.prime(row.streamer.id, row.streamer);
      return rows;
    },
    (row) => row.userId,
    options,
  );

  return { streamerById, wishlistCountByStreamer, wishlistPageByStreamer, trackedStreamersByUser };
}

/** Newest live items of each streamer after the cursor: one LATERAL statement for all. */
function selectWishlistPages(db: Database, streamerIds: readonly string[], page: PageRequest) {
  const [firstSeenAt, id] = page.after ?? [];
  const perStreamer = db
    .select()
    .from(wishlistItems)
    .where(
      and(
        eq(wishlistItems.streamerId, streamers.id),
        isNull(wishlistItems.removedAt),
        page.after
          ? sql`(${wishlistItems.firstSeenAt}, ${wishlistItems.id}) < (${firstSeenAt}::timestamptz, ${id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(desc(wishlistItems.firstSeenAt), desc(wishlistItems.id))
    .limit(page.first + 1)
    .as('w');
  return db
    .select(perStreamer._.selectedFields)
    .from(streamers)
    .crossJoinLateral(perStreamer)
    .where(inArray(streamers.id, streamerIds))
    .orderBy(perStreamer.streamerId, desc(perStreamer.firstSeenAt), desc(perStreamer.id));
}

/** Each user's tracked streamers, most recently tracked first: one LATERAL statement for all. */
function selectTrackedPages(db: Database, userIds: readonly string[], page: PageRequest) {
  const [trackedAt, streamerId] = page.after ?? [];
  const perUser = db
    .select()
    .from(userStreamers)
    .where(
      and(
        eq(userStreamers.userId, users.id),
        page.after
          ? sql`(${userStreamers.trackedAt}, ${userStreamers.streamerId}) < (${trackedAt}::timestamptz, ${streamerId}::uuid)`
          : undefined,
      ),
    )
    .orderBy(desc(userStreamers.trackedAt), desc(userStreamers.streamerId))
    .limit(page.first + 1)
    .as('us');
  return db
    .select({ userId: perUser.userId, trackedAt: perUser.trackedAt, streamer: streamers })
    .from(users)
    .crossJoinLateral(perUser)
    .innerJoin(streamers, eq(streamers.id, perUser.streamerId))
    .where(inArray(users.id, userIds))
    .orderBy(perUser.userId, desc(perUser.trackedAt), desc(perUser.streamerId));
}
