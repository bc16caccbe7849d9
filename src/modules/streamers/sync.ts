import { hostname } from 'node:os';
import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import pLimit from 'p-limit';
import type { Database, Tx } from '../../db/client.js';
import { streamers, wishlistItems, wishlistPriceChanges, type WishlistItem } from '../../db/schema.js';
import { anyId } from '../../db/any.js';
import { withSpan } from '../../platform/tracing.js';
import { queueNotificationsForNewItems } from '../notifications/producers.js';
import { fetchWishlist, SourceError, type SourceItem } from './source.js';

/** Who holds a lease, as operators read it in `streamers.sync_lease_owner`. */
export const INSTANCE_ID = `${hostname()}:${process.pid}`;

export interface SyncSettings {
  intervalSeconds: number;
  timeoutMs: number;
  retries: number;
  leaseSeconds: number;
}

/** A streamer claimed for one sync: writes for it succeed only while `token` is its lease. */
export interface SyncClaim {
  id: string;
  wishlistUrl: string;
  token: string;
}

export type SyncOutcome =
  | { kind: 'synced'; added: number; removed: number; priceChanged: number; notified: number }
  | { kind: 'failed'; error: string }
  /** The lease ran out (or another instance holds it now): nothing was written. */
  | { kind: 'stale-lease' };

const claimColumns = { id: streamers.id, wishlistUrl: streamers.wishlistUrl, token: streamers.syncLeaseToken };

/** The lease is free: never taken, released, or run out. */
const leaseFree = () => or(isNull(streamers.syncLeaseUntil), lt(streamers.syncLeaseUntil, sql`now()`));

/**
 * Claims up to `limit` due streamers for this instance. Rows another transaction is
 * claiming are skipped (SKIP LOCKED), rows under a live lease are not due, so each due
 * streamer goes to exactly one claimer; each gets a fresh lease token.
 */
export async function claimDueStreamers(db: Database, limit: number, leaseSeconds: number, owner = INSTANCE_ID): Promise<SyncClaim[]> {
  const due = db
    .select({ id: streamers.id })
    .from(streamers)
    .where(and(isNotNull(streamers.wishlistUrl), lte(streamers.nextSyncAt, sql`now()`), leaseFree()))
    .orderBy(asc(streamers.nextSyncAt))
    .limit(limit)
    .for('update', { skipLocked: true });
  const rows = await db
    .update(streamers)
    .set(leaseColumns(leaseSeconds, owner))
    .where(inArray(streamers.id, due))
    .returning(claimColumns);
  return rows as SyncClaim[];
}

/**
 * Claims one streamer now, due or not (an admin's `syncStreamer`). Null when its lease
 * is held by a sync in progress or it has no wishlist URL.
 */
export async function claimStreamer(db: Database, id: string, leaseSeconds: number, owner = INSTANCE_ID): Promise<SyncClaim | null> {
  const [row] = await db
    .update(streamers)
    .set(leaseColumns(leaseSeconds, owner))
    .where(and(eq(streamers.id, id), isNotNull(streamers.wishlistUrl), leaseFree()))
    .returning(claimColumns);
  return (row as SyncClaim | undefined) ?? null;
}

function leaseColumns(leaseSeconds: number, owner: string) {
  return {
    syncLeaseToken: sql`gen_random_uuid()`,
    syncLeaseUntil: sql`now() + make_interval(secs => ${leaseSeconds})`,
    syncLeaseOwner: owner,
  };
}

/**
 * Fetches the claimed streamer's wishlist and applies it, or records why it could not.
 * Every write checks the lease (the fencing token) under the streamer's row lock: once
 * the lease has run out, whatever this sync learned is dropped. With tracing on, a sync
 * is a span (in the `syncStreamer` mutation's trace, or its own when the loop runs it),
 * which the deliveries of the notifications it queues link to.
 */
export async function syncClaimed(
  db: Database,
  claim: SyncClaim,
  settings: SyncSettings,
  fetch: (url: string) => Promise<SourceItem[]> = (url) => fetchWishlist(url, settings),
): Promise<SyncOutcome> {
  return withSpan('streamer sync', { attributes: { 'nightgraph.streamer.id': claim.id } }, async (span) => {
    const outcome = await syncWithLease(db, claim, settings, fetch);
    span?.setAttribute('nightgraph.sync.outcome', outcome.kind);
    if (outcome.kind === 'synced') span?.setAttribute('nightgraph.sync.notified', outcome.notified);
    return outcome;
  });
}

async function syncWithLease(
  db: Database,
  claim: SyncClaim,
  settings: SyncSettings,
  fetch: (url: string) => Promise<SourceItem[]>,
): Promise<SyncOutcome> {
  let items: SourceItem[];
  try {
    items = await fetch(claim.wishlistUrl);
  } catch (error) {
    const message = error instanceof SourceError ? error.message : 'the wishlist could not be read';
    const recorded = await db
      .update(streamers)
      .set({ lastSyncError: message, ...scheduleNext(settings) })
      .where(holdsLease(claim))
      .returning({ id: streamers.id });
    return recorded.length > 0 ? { kind: 'failed', error: message } : { kind: 'stale-lease' };
  }
  return db.transaction(async (tx) => {
    const [held] = await tx.select({ id: streamers.id, displayName: streamers.displayName }).from(streamers).where(holdsLease(claim)).for('update');
    if (!held) return { kind: 'stale-lease' } as const;
    const diff = await applyWishlist(tx, claim.id, items);
    const notified = await queueNotificationsForNewItems(tx, held.displayName, diff.addedIds);
    await tx
      .update(streamers)
      .set({ lastSyncedAt: sql`now()`, lastSyncError: null, ...scheduleNext(settings) })
      .where(eq(streamers.id, claim.id));
    return { kind: 'synced', added: diff.addedIds.length, removed: diff.removed, priceChanged: diff.priceChanged, notified } as const;
  });
}

/** The lease is this claim's and has not run out (the clock read now, not at transaction start). */
function holdsLease(claim: SyncClaim) {
  return and(eq(streamers.id, claim.id), eq(streamers.syncLeaseToken, claim.token), gt(streamers.syncLeaseUntil, sql`clock_timestamp()`));
}

/** Releases the lease and makes the streamer due one interval from now. */
function scheduleNext(settings: SyncSettings) {
  return {
    nextSyncAt: sql`now() + make_interval(secs => ${settings.intervalSeconds})`,
    syncLeaseToken: null,
    syncLeaseUntil: null,
    syncLeaseOwner: null,
  };
}

/**
 * Brings the streamer's items in line with the source: new ones inserted, vanished ones
 * marked removed (and back if they return), price changes recorded, other details updated.
 */
async function applyWishlist(tx: Tx, streamerId: string, items: SourceItem[]) {
  const known = new Map<string, WishlistItem>();
  for (const row of await tx.select().from(wishlistItems).where(eq(wishlistItems.streamerId, streamerId))) known.set(row.externalId, row);

  const added = items.filter((item) => !known.has(item.externalId));
  const listed = new Set(items.map((item) => item.externalId));
  const vanished = [...known.values()].filter((row) => row.removedAt === null && !listed.has(row.externalId));
  const changes: { row: WishlistItem; item: SourceItem }[] = [];
  for (const item of items) {
    const row = known.get(item.externalId);
    if (row && (row.removedAt !== null || detailsDiffer(row, item))) changes.push({ row, item });
  }

  const addedIds =
    added.length === 0
      ? []
      : (await tx.insert(wishlistItems).values(added.map((item) => ({ streamerId, ...item }))).returning({ id: wishlistItems.id })).map((r) => r.id);
  if (vanished.length > 0) {
    await tx
      .update(wishlistItems)
      .set({ removedAt: sql`now()`, updatedAt: sql`now()` })
      .where(anyId(wishlistItems.id, vanished.map((row) => row.id)));
  }
  const repriced = changes.filter(({ row, item }) => row.priceMinor !== item.priceMinor || row.currency !== item.currency);
  if (repriced.length > 0) {
    await tx.insert(wishlistPriceChanges).values(
      repriced.map(({ row, item }) => ({
        itemId: row.id,
        oldPriceMinor: row.priceMinor,
        oldCurrency: row.currency,
        newPriceMinor: item.priceMinor,
        newCurrency: item.currency,
      })),
    );
  }
  for (const { row, item } of changes) {
    await tx
      .update(wishlistItems)
      .set({ title: item.title, priceMinor: item.priceMinor, currency: item.currency, url: item.url, imageUrl: item.imageUrl, removedAt: null, updatedAt: sql`now()` })
      .where(eq(wishlistItems.id, row.id));
  }
  return { addedIds, removed: vanished.length, priceChanged: repriced.length };
}

function detailsDiffer(row: WishlistItem, item: SourceItem): boolean {
  return (
    row.title !== item.title ||
    row.priceMinor !== item.priceMinor ||
    row.currency !== item.currency ||
    row.url !== item.url ||
    row.imageUrl !== item.imageUrl
  );
}

export interface WishlistScheduler {
  stop(): Promise<void>;
}

/**
 * Every `pollSeconds`, claims as many due streamers as it has free slots (at most
 * `concurrency` syncs at once on this instance) and syncs them. Runs on every instance;
 * the claim, not a leader, decides who syncs what.
 */
export function startWishlistScheduler(
  db: Database,
  settings: SyncSettings & { pollSeconds: number; concurrency: number },
  report: (claim: SyncClaim, outcome: SyncOutcome) => void,
  onError: (error: unknown) => void,
): WishlistScheduler {
  const limit = pLimit(settings.concurrency);
  const running = new Set<Promise<void>>();
  let stopped = false;
  let claiming = false;

  const tick = async () => {
    const free = settings.concurrency - limit.activeCount - limit.pendingCount;
    if (stopped || claiming || free <= 0) return;
    claiming = true;
    try {
      for (const claim of await claimDueStreamers(db, free, settings.leaseSeconds)) {
        const job = limit(() => syncClaimed(db, claim, settings))
          .then((outcome) => report(claim, outcome), onError)
          .finally(() => running.delete(job));
        running.add(job);
      }
    } catch (error) {
      onError(error);
    } finally {
      claiming = false;
    }
  };
  const timer = setInterval(() => void tick(), settings.pollSeconds * 1000);
  timer.unref();
  void tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(running);
    },
  };
}
