import { asc, eq, getTableColumns, gt, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { clubs, nights, type Club, type Night, type Table } from '../../db/schema.js';
import { toConnection, type PageRequest } from '../../graphql/pagination.js';
import { requireStaffOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import { notFound } from '../../errors.js';
import { LatestValueIterator } from '../../platform/latest.js';
import type { AvailabilitySnapshot } from './availability.js';
import type { TableStateRow } from './table-states.js';

/** Clubs by slug, keyset-paginated on the slug. */
export async function listClubs(scope: Scope, page: PageRequest) {
  const [afterSlug] = page.after ?? [];
  const rows = await scope.db
    .select()
    .from(clubs)
    .where(afterSlug === undefined ? undefined : gt(clubs.slug, String(afterSlug)))
    .orderBy(asc(clubs.slug))
    .limit(page.first + 1);
  for (const row of rows) scope.loaders.clubById.prime(row.id, row);
  return toConnection(rows, page, (c) => [c.slug]);
}

export async function clubBySlug(scope: Scope, slug: string): Promise<Club | null> {
  const [row] = await scope.db.select().from(clubs).where(eq(clubs.slug, slug)).limit(1);
  if (row) scope.loaders.clubById.prime(row.id, row);
  return row ?? null;
}

export function nightsOfClub(scope: Scope, club: Club, page: PageRequest) {
  return scope.loaders.nightsByClub
    .load({ parentId: club.id, page })
    .then((rows) => toConnection(rows, page, (n) => [n.startsAt.toISOString(), n.id]));
}

/** Which tables of a night are free, held, booked or seated, and the version that says so. */
export async function availabilityOf(scope: Scope, night: Night): Promise<AvailabilitySnapshot> {
  return (await scope.loaders.availabilityByNight.load(night.id))!;
}

/**
 * The night's snapshot now, then each newer one (slow readers skip to the latest), as
 * subscription events `{ availabilityChanged }`. NOT_FOUND for an unknown night.
 */
export async function watchAvailability(scope: Scope, nightId: string): Promise<AsyncIterableIterator<{ availabilityChanged: AvailabilitySnapshot }>> {
  if (!(await scope.loaders.nightById.load(nightId))) throw notFound('Night', nightId);
  const events = new LatestValueIterator<{ availabilityChanged: AvailabilitySnapshot }>(() => void stop.then((s) => s()));
  const stop = scope.availabilityFeed.listen(nightId, (snapshot) => events.push({ availabilityChanged: snapshot }));
  await stop;
  return events;
}

export type NightTableRow = TableStateRow & { table: Table };

/**
 * The night's tables as staff see them, from its availability snapshot (which holds each
 * table's live booking and open session, and is never older than a change the caller saw
 * committed); FORBIDDEN for anyone but staff of its club.
 */
export async function nightTables(scope: Scope, night: Night): Promise<NightTableRow[]> {
  await requireStaffOf(scope, night.clubId, "a night's tables");
  const snapshot = await scope.loaders.availabilityByNight.load(night.id);
  if (!snapshot) return [];
  const { nightId, clubId, version, currency } = snapshot;
  return snapshot.tables.map(({ table, state, booking, session }) => ({ nightId, clubId, version, currency, table, state, booking, session }));
}

export function nightById(scope: Scope, id: string): Promise<Night | null> {
  return scope.loaders.nightById.load(id);
}

export function tablesOfClub(scope: Scope, club: Club): Promise<Table[]> {
  return scope.loaders.tablesByClub.load(club.id);
}

/**
 * The club and current snapshot for the floor plan of `nightId` at club `slug`; null when
 * either is unknown or the night is not the club's.
 */
export async function hallOf(scope: Scope, slug: string, nightId: string): Promise<{ club: Club; snapshot: AvailabilitySnapshot } | null> {
  const [club, snapshot] = await Promise.all([clubBySlug(scope, slug), scope.loaders.availabilityByNight.load(nightId)]);
  if (!club || !snapshot || snapshot.clubId !== club.id) return null;
  return { club, snapshot };
}

/** A night with its club, or null. */
export async function nightWithClub(scope: Scope, nightId: string): Promise<{ night: Night; club: Club } | null> {
  const night = await scope.loaders.nightById.load(nightId);
  const club = night ? await scope.loaders.clubById.load(night.clubId) : null;
  return night && club ? { night, club } : null;
}

/**
 * Locks the night's row. Every change of a night's bookings and table sessions takes this
 * lock first, so checks made after it see every earlier change, and the version bump in
 * the same transaction orders the commits.
 */
export async function lockNight(tx: Tx, nightId: string): Promise<LockedNight> {
  const [night] = await tx
    .select({ ...getTableColumns(nights), now: sql<Date>`now()`.mapWith(nights.startsAt) })
    .from(nights)
    .where(eq(nights.id, nightId))
    .for('update');
  if (!night) throw notFound('Night', nightId);
  return night;
}

/** A locked night and the database's clock, which decides expiries (not this process's). */
export type LockedNight = Night & { now: Date };

/** Bumps the night's availability version; called in the transaction that changed it. */
export async function bumpVersion(tx: Tx, nightId: string): Promise<void> {
  await tx
    .update(nights)
    .set({ availabilityVersion: sql`${nights.availabilityVersion} + 1` })
    .where(eq(nights.id, nightId));
}

/**
 * After a commit that changed the night (or a replay of one): store and announce its new
 * snapshot, and forget this request's copy so the answer's own reads see the change.
 */
export async function announceAvailability(scope: Scope, nightId: string): Promise<void> {
  await scope.availability.committed([nightId]);
  scope.loaders.availabilityByNight.clear(nightId);
}
