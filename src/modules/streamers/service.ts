import type { Streamer, User } from '../../db/schema.js';
import { toConnection, type PageRequest } from '../../graphql/pagination.js';
import type { Scope } from '../scope.js';

export function streamerById(scope: Scope, id: string): Promise<Streamer | null> {
  return scope.loaders.streamerById.load(id);
}

export async function wishlistItemsCount(scope: Scope, streamer: Streamer): Promise<number> {
  return (await scope.loaders.wishlistCountByStreamer.load(streamer.id))?.count ?? 0;
}

/** Items on the streamer's wishlist now, newest first. */
export async function wishlistOf(scope: Scope, streamer: Streamer, page: PageRequest) {
  const rows = await scope.loaders.wishlistPageByStreamer.load({ parentId: streamer.id, page });
  return toConnection(rows, page.first, (item) => [item.firstSeenAt.toISOString(), item.id]);
}

/** Streamers the user tracks, most recently tracked first; edges carry `trackedAt`. */
export async function trackedStreamersOf(scope: Scope, user: User, page: PageRequest) {
  const rows = await scope.loaders.trackedStreamersByUser.load({ parentId: user.id, page });
  const connection = toConnection(
    rows,
    page.first,
    (row) => [row.trackedAt.toISOString(), row.streamer.id],
    (row) => row.streamer,
  );
  return {
    pageInfo: connection.pageInfo,
    edges: connection.edges.map((edge, i) => Object.assign(edge, { trackedAt: connection.rows[i]!.trackedAt })),
  };
}
