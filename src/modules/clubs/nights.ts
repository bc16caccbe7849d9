import { and, asc, eq, gte, inArray, lt, sql } from 'drizzle-orm';
import { bookings, nights, type Night } from '../../db/schema.js';
import { badInput, conflict, isExclusionViolation, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { toConnection, type PageRequest } from '../../graphql/pagination.js';
import { queueNightCancelled } from '../notifications/producers.js';
import { requireManagerOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import { announceAvailability, bumpVersion, lockNight } from './service.js';

const MAX_NIGHT_MS = 24 * 3_600_000;
const MAX_REASON_LENGTH = 500;
const OVERLAP = 'nights_no_overlap';

function validTimes(startsAt: Date, endsAt: Date, now = Date.now()): void {
  if (endsAt.getTime() <= startsAt.getTime()) throw badInput('endsAt must be after startsAt');
  if (endsAt.getTime() - startsAt.getTime() > MAX_NIGHT_MS) throw badInput('A night lasts at most 24 hours');
  if (startsAt.getTime() < now) throw badInput('startsAt must not be in the past');
}

function refuseOverlap(error: unknown): never {
  if (isExclusionViolation(error, OVERLAP)) {
    throw conflict('Another scheduled night of the club overlaps this time');
  }
  throw error;
}

/**
 * Schedules a night of the club (its managers). The database refuses one that overlaps
 * another scheduled night of the club (an exclusion constraint): CONFLICT.
 */
export async function scheduleNight(scope: Scope, input: { clubId: string; startsAt: Date; endsAt: Date }): Promise<Night> {
  const club = isUuid(input.clubId) ? await scope.loaders.clubById.load(input.clubId) : null;
  if (!club) throw notFound('Club', input.clubId);
  await requireManagerOf(scope, club.id, 'schedule nights');
  validTimes(input.startsAt, input.endsAt);
  try {
    const [night] = await scope.db.insert(nights).values({ clubId: club.id, startsAt: input.startsAt, endsAt: input.endsAt }).returning();
    scope.loaders.nightById.prime(night!.id, night!);
    return night!;
  } catch (error) {
    refuseOverlap(error);
  }
}

/** Moves a scheduled night that has not started (its club's managers), under the same rules. */
export async function updateNight(scope: Scope, id: string, input: { startsAt?: Date | null; endsAt?: Date | null }): Promise<Night> {
  const night = isUuid(id) ? await scope.loaders.nightById.load(id) : null;
  if (!night) throw notFound('Night', id);
  await requireManagerOf(scope, night.clubId, 'change nights');
  let updated: Night;
  try {
    updated = await scope.db.transaction(async (tx) => {
      const locked = await lockNight(tx, night.id);
      if (locked.status === 'cancelled') throw badInput('This night was cancelled');
      if (locked.startsAt.getTime() <= locked.now.getTime()) throw badInput('This night has already started');
      const startsAt = input.startsAt ?? locked.startsAt;
      const endsAt = input.endsAt ?? locked.endsAt;
      validTimes(startsAt, endsAt, locked.now.getTime());
      const [row] = await tx.update(nights).set({ startsAt, endsAt }).where(eq(nights.id, night.id)).returning();
      await bumpVersion(tx, night.id);
      return row!;
    });
  } catch (error) {
    refuseOverlap(error);
  }
  scope.loaders.nightById.clear(id).prime(id, updated);
  await announceAvailability(scope, id);
  return updated;
}

/**
 * Cancels a night (its club's managers), in one transaction: the night becomes
 * CANCELLED, every held or confirmed booking of it is cancelled, its version moves, and
 * each booked guest gets one NIGHT_CANCELLED notification through the outbox.
 * Cancelling twice is harmless. Holds of a cancelled night are refused.
 */
export async function cancelNight(scope: Scope, id: string, reason: string): Promise<Night> {
  const night = isUuid(id) ? await scope.loaders.nightById.load(id) : null;
  if (!night) throw notFound('Night', id);
  await requireManagerOf(scope, night.clubId, 'cancel nights');
  const why = reason.trim();
  if (why.length === 0 || why.length > MAX_REASON_LENGTH) throw badInput(`reason must be 1 to ${MAX_REASON_LENGTH} characters`);
  const club = (await scope.loaders.clubById.load(night.clubId))!;
  const outcome = await scope.db.transaction(async (tx) => {
    const locked = await lockNight(tx, night.id);
    if (locked.status === 'cancelled') {
      const { now: _now, ...unchanged } = locked;
      return { night: unchanged as Night, changed: false };
    }
    const [cancelled] = await tx
      .update(nights)
      .set({ status: 'cancelled', cancelledAt: sql`now()`, cancelReason: why })
      .where(eq(nights.id, night.id))
      .returning();
    const guests = await tx
      .update(bookings)
      .set({ status: 'cancelled', updatedAt: sql`now()` })
      .where(and(eq(bookings.nightId, night.id), inArray(bookings.status, ['held', 'confirmed'])))
      .returning({ userId: bookings.userId });
    await bumpVersion(tx, night.id);
    await queueNightCancelled(tx, cancelled!, club.name, why, guests.map((g) => g.userId));
    return { night: { ...cancelled!, availabilityVersion: cancelled!.availabilityVersion + 1 }, changed: true };
  });
  scope.loaders.nightById.clear(id).prime(id, outcome.night);
  if (outcome.changed) {
    scope.notifications.wake();
    await announceAvailability(scope, id);
  }
  return outcome.night;
}

/** Scheduled nights of every club starting in [from, to), earliest first (the "this weekend" page). */
export async function listNights(scope: Scope, window: { from: Date | null; to: Date | null }, page: PageRequest) {
  if (window.from && window.to && window.to.getTime() <= window.from.getTime()) throw badInput('"to" must be after "from"');
  const [afterStart, afterId] = page.after ?? [];
  if (afterId !== undefined && (!isUuid(String(afterId)) || Number.isNaN(Date.parse(String(afterStart))))) {
    throw badInput('"after" is not a cursor from this connection');
  }
  const rows = await scope.db
    .select()
    .from(nights)
    .where(
      and(
        eq(nights.status, 'scheduled'),
        window.from ? gte(nights.startsAt, window.from) : undefined,
        window.to ? lt(nights.startsAt, window.to) : undefined,
        afterStart === undefined ? undefined : sql`(${nights.startsAt}, ${nights.id}) > (${String(afterStart)}::timestamptz, ${String(afterId)}::uuid)`,
      ),
    )
    .orderBy(asc(nights.startsAt), asc(nights.id))
    .limit(page.first + 1);
  for (const row of rows) scope.loaders.nightById.prime(row.id, row);
  return toConnection(rows, page, (n) => [n.startsAt.toISOString(), n.id]);
}
