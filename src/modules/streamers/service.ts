import { and, asc, eq, ilike, or, sql } from 'drizzle-orm';
import { escapeLike } from '../../db/any.js';
import { isHttpUrl } from '../http-url.js';
import { streamers, userStreamers } from '../../db/schema.js';
import { badInput, conflict, forbidden, isUniqueViolation, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { requirePrincipal } from '../../platform/auth.js';
import type { Streamer, User } from '../../db/schema.js';
import { toConnection, type PageRequest } from '../../graphql/pagination.js';
import type { Scope } from '../scope.js';
import { claimStreamer, syncClaimed } from './sync.js';
import { requireFullView } from '../users/visibility.js';

export function streamerById(scope: Scope, id: string): Promise<Streamer | null> {
  return scope.loaders.streamerById.load(id);
}

export async function wishlistItemsCount(scope: Scope, streamer: Streamer): Promise<number> {
  return (await scope.loaders.wishlistCountByStreamer.load(streamer.id))?.count ?? 0;
}

/** Items on the streamer's wishlist now, newest first. */
export async function wishlistOf(scope: Scope, streamer: Streamer, page: PageRequest) {
  const rows = await scope.loaders.wishlistPageByStreamer.load({ parentId: streamer.id, page });
  return toConnection(rows, page, (item) => [item.firstSeenAt.toISOString(), item.id]);
}

/** Streamers the user tracks, most recently tracked first; edges carry `trackedAt`. The user (and admins) only. */
export async function trackedStreamersOf(scope: Scope, user: User, page: PageRequest) {
  await requireFullView(scope, user, 'tracked streamers');
  const rows = await scope.loaders.trackedStreamersByUser.load({ parentId: user.id, page });
  const connection = toConnection(
    rows,
    page,
    (row) => [row.trackedAt.toISOString(), row.streamer.id],
    (row) => row.streamer,
  );
  return {
    pageInfo: connection.pageInfo,
    edges: connection.edges.map((edge, i) => Object.assign(edge, { trackedAt: connection.rows[i]!.trackedAt })),
  };
}

export interface AddStreamerInput {
  platform: string;
  handle: string;
  displayName: string;
  wishlistUrl?: string | null;
}

/** Adds a streamer (admins only); CONFLICT for a platform handle already known, in any case. */
export async function addStreamer(scope: Scope, input: AddStreamerInput): Promise<Streamer> {
  const principal = requirePrincipal(scope.viewer);
  if (!principal.roles.includes('admin')) throw forbidden('Only admins may add streamers');
  const platform = input.platform.trim().toLowerCase();
  const handle = input.handle.trim();
  const displayName = input.displayName.trim();
  if (!/^[a-z0-9_-]{1,30}$/.test(platform)) throw badInput('platform must be 1 to 30 lower-case letters, digits, - or _');
  if (handle.length === 0 || handle.length > 100) throw badInput('handle must be 1 to 100 characters');
  if (displayName.length === 0 || displayName.length > 200) throw badInput('displayName must be 1 to 200 characters');
  const wishlistUrl = input.wishlistUrl?.trim() || null;
  if (wishlistUrl !== null && !isHttpUrl(wishlistUrl)) throw badInput('wishlistUrl must be an http(s) URL of at most 2,000 characters');
  try {
    const [streamer] = await scope.db.insert(streamers).values({ platform, handle, displayName, wishlistUrl }).returning();
    return streamer!;
  } catch (error) {
    if (isUniqueViolation(error, 'streamers_platform_handle_key')) throw conflict(`${platform}/${handle} is already a streamer here`);
    throw error;
  }
}

/** Tracks the streamer for the caller; idempotent (the primary key holds one row per pair). */
export async function trackStreamer(scope: Scope, streamerId: string): Promise<Streamer> {
  requirePrincipal(scope.viewer);
  const streamer = await existingStreamer(scope, streamerId);
  const user = await scope.currentUser();
  await scope.db.insert(userStreamers).values({ userId: user.id, streamerId: streamer.id }).onConflictDoNothing();
  return streamer;
}

/** Stops tracking; idempotent. */
export async function untrackStreamer(scope: Scope, streamerId: string): Promise<Streamer> {
  requirePrincipal(scope.viewer);
  const streamer = await existingStreamer(scope, streamerId);
  const user = await scope.currentUser();
  await scope.db.delete(userStreamers).where(and(eq(userStreamers.userId, user.id), eq(userStreamers.streamerId, streamer.id)));
  return streamer;
}

/**
 * Streamers by case-folded display name (then id), keyset-paginated; `search` is a
 * case-insensitive part of the display name (pg_trgm index) or of the handle.
 */
export async function listStreamers(scope: Scope, search: string | null | undefined, page: PageRequest) {
  const term = search?.trim() || null;
  if (term !== null && term.length > 100) throw badInput('search must be at most 100 characters');
  const sortKey = sql`lower(${streamers.displayName}) collate "C"`;
  const [afterName, afterId] = page.after ?? [];
  const rows = await scope.db
    .select()
    .from(streamers)
    .where(
      and(
        term === null
          ? undefined
          : or(ilike(streamers.displayName, `%${escapeLike(term)}%`), ilike(streamers.handle, `%${escapeLike(term)}%`)),
        page.after ? sql`(${sortKey}, ${streamers.id}) > (lower(${String(afterName)}) collate "C", ${String(afterId)}::uuid)` : undefined,
      ),
    )
    .orderBy(sortKey, asc(streamers.id))
    .limit(page.first + 1);
  for (const row of rows) scope.loaders.streamerById.prime(row.id, row);
  return toConnection(rows, page, (s) => [s.displayName, s.id]);
}

/**
 * Syncs one streamer now (admins), whether due or not, under a lease like a scheduled
 * sync; answers once the sync has been applied or its failure recorded.
 */
export async function syncStreamer(scope: Scope, id: string): Promise<Streamer> {
  const principal = requirePrincipal(scope.viewer);
  if (!principal.roles.includes('admin')) throw forbidden('Only admins may sync streamers');
  const streamer = await existingStreamer(scope, id);
  if (!streamer.wishlistUrl) throw badInput('This streamer has no wishlist URL');
  const settings = scope.settings.wishlistSync;
  const claim = await claimStreamer(scope.db, streamer.id, settings.leaseSeconds);
  if (!claim) throw conflict('A sync of this streamer is in progress');
  const outcome = await syncClaimed(scope.db, claim, settings);
  if (outcome.kind === 'synced' && outcome.notified > 0) scope.notifications.wake();
  const [fresh] = await scope.db.select().from(streamers).where(eq(streamers.id, streamer.id));
  return fresh!;
}

async function existingStreamer(scope: Scope, id: string): Promise<Streamer> {
  const streamer = isUuid(id) ? await scope.loaders.streamerById.load(id) : null;
  if (!streamer) throw notFound('Streamer', id);
  return streamer;
}
