import { createHash } from 'node:crypto';
import { and, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client.js';
import { bookings, tableSessions, tables, type Booking } from '../../db/schema.js';
import { AppError, ErrorCode, badInput, conflict, forbidden, isUniqueViolation, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { requirePrincipal } from '../../platform/auth.js';
import { isStaffOf } from '../staff/service.js';
import { announceAvailability, bumpVersion, lockNight, type LockedNight } from '../clubs/service.js';
import type { Scope } from '../scope.js';

export interface HoldTableInput {
  nightId: string;
  tableId: string;
  partySize: number;
  idempotencyKey: string;
}

const MAX_KEY_LENGTH = 200;

/**
 * Holds a table for the caller until now + the hold TTL. Every change of a night's
 * tables first locks the night's row, so the checks below see every earlier change and
 * the version bump orders commits; the partial unique index stays the final word.
 * A replay with the same idempotency key and input returns the booking it made.
 */
export async function holdTable(scope: Scope, input: HoldTableInput): Promise<Booking> {
  if (input.idempotencyKey.length === 0 || input.idempotencyKey.length > MAX_KEY_LENGTH) {
    throw badInput(`idempotencyKey must be 1 to ${MAX_KEY_LENGTH} characters`);
  }
  if (input.partySize < 1) throw badInput(`partySize must be at least 1, got ${input.partySize}`);
  if (!isUuid(input.nightId)) throw notFound('Night', input.nightId);
  if (!isUuid(input.tableId)) throw badInput(`Table ${JSON.stringify(input.tableId)} is not a table of this night's club`);
  const user = await scope.currentUser();
  const requestHash = digest([input.nightId, input.tableId, input.partySize]);
  const replay = async (db: Executor = scope.db) => {
    const [previous] = await db
      .select()
      .from(bookings)
      .where(and(eq(bookings.userId, user.id), eq(bookings.idempotencyKey, input.idempotencyKey)));
    if (!previous) return null;
    if (previous.requestHash !== requestHash) {
      throw new AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotencyKey was used for a different hold');
    }
    return previous;
  };

  const earlier = await replay();
  if (earlier) {
    // Announce again: if the first attempt's announcement failed, this retry repairs it.
    await announceAvailability(scope, earlier.nightId);
    return earlier;
  }
  let outcome: { booking: Booking; created: boolean };
  try {
    outcome = await scope.db.transaction(async (tx) => {
      const night = await lockNight(tx, input.nightId);
      // The same request may have committed while this one waited for the lock.
      const raced = await replay(tx);
      if (raced) return { booking: raced, created: false };
      if (night.endsAt.getTime() <= night.now.getTime()) throw badInput('This night is already over');
      if (night.status === 'cancelled') throw badInput('This night was cancelled');
      // FOR SHARE: retiring the table waits for this hold to commit, or this for the retirement.
      const [table] = await tx
        .select()
        .from(tables)
        .where(and(eq(tables.id, input.tableId), eq(tables.clubId, night.clubId)))
        .for('share');
      if (!table) throw badInput(`Table ${JSON.stringify(input.tableId)} is not a table of this night's club`);
      if (table.retiredAt) throw badInput(`Table ${table.label} is retired`);
      if (input.partySize > table.capacity) {
        throw badInput(`Table ${table.label} seats ${table.capacity}; the party is ${input.partySize}`);
      }
      // A hold past its expiry no longer takes the table: release it in this transaction.
      await releaseExpiredHolds(tx, night.id, table.id);
      await refuseIfTaken(tx, night.id, table.id, table.label);
      const [created] = await tx
        .insert(bookings)
        .values({
          nightId: night.id,
          tableId: table.id,
          userId: user.id,
          partySize: input.partySize,
          status: 'held',
          holdExpiresAt: sql`now() + make_interval(secs => ${scope.settings.holdTtlSeconds})`,
          idempotencyKey: input.idempotencyKey,
          requestHash,
        })
        .returning();
      await bumpVersion(tx, night.id);
      return { booking: created!, created: true };
    });
  } catch (error) {
    if (isUniqueViolation(error, 'bookings_user_idempotency_key')) {
      // The same request raced itself; the winner's booking is the answer.
      const winner = await replay();
      if (winner) return winner;
    }
    if (isUniqueViolation(error, 'bookings_live_table_key')) throw conflict('This table is already taken for the night');
    throw error;
  }
  const { booking } = outcome;
  await announceAvailability(scope, booking.nightId);
  scope.loaders.bookingById.clear(booking.id).prime(booking.id, booking);
  return booking;
}

/**
 * Marks the night's holds past their expiry (on one table, or all) as expired, in the
 * caller's transaction, which must hold the night's lock. Returns how many it released.
 */
export async function releaseExpiredHolds(tx: Tx, nightId: string, tableId?: string): Promise<number> {
  const released = await tx
    .update(bookings)
    .set({ status: 'expired', updatedAt: sql`now()` })
    .where(
      and(
        eq(bookings.nightId, nightId),
        tableId === undefined ? undefined : eq(bookings.tableId, tableId),
        eq(bookings.status, 'held'),
        lte(bookings.holdExpiresAt, sql`now()`),
      ),
    )
    .returning({ id: bookings.id });
  return released.length;
}

/** Confirms the caller's own hold. HOLD_EXPIRED once it has expired (the hold is then released). */
export async function confirmBooking(scope: Scope, id: string): Promise<Booking> {
  const user = await scope.currentUser();
  const outcome = await changeBooking(scope, id, async (tx, booking, night) => {
    if (booking.userId !== user.id) throw forbidden('Only the guest who holds this booking may confirm it');
    if (booking.status === 'confirmed') return { booking, changed: false };
    if (booking.status === 'cancelled') throw conflict('This booking was cancelled');
    if (booking.status === 'expired') return { booking, changed: false, expired: true };
    if (booking.holdExpiresAt!.getTime() <= night.now.getTime()) {
      const [released] = await tx
        .update(bookings)
        .set({ status: 'expired', updatedAt: sql`now()` })
        .where(eq(bookings.id, booking.id))
        .returning();
      return { booking: released!, changed: true, expired: true };
    }
    const [confirmed] = await tx
      .update(bookings)
      .set({ status: 'confirmed', holdExpiresAt: null, updatedAt: sql`now()` })
      .where(eq(bookings.id, booking.id))
      .returning();
    return { booking: confirmed!, changed: true };
  });
  if (outcome.expired) throw new AppError(ErrorCode.HOLD_EXPIRED, 'The hold expired before it was confirmed; hold the table again');
  return outcome.booking;
}

/** Cancels a held or confirmed booking: its guest, or staff of the club. */
export async function cancelBooking(scope: Scope, id: string): Promise<Booking> {
  requirePrincipal(scope.viewer);
  const user = await scope.currentUser();
  // Decided before the transaction: embedded PGlite runs one at a time, so a staff lookup
  // from inside it would wait for the transaction itself.
  const found = isUuid(id) ? await scope.loaders.bookingById.load(id) : null;
  const night = found ? await scope.loaders.nightById.load(found.nightId) : null;
  const staff = night ? await isStaffOf(scope, night.clubId) : false;
  const outcome = await changeBooking(scope, id, async (tx, booking) => {
    if (booking.userId !== user.id && !staff) {
      throw forbidden('Only the guest who made this booking, or staff of the club, may cancel it');
    }
    if (booking.status !== 'held' && booking.status !== 'confirmed') return { booking, changed: false };
    const [cancelled] = await tx
      .update(bookings)
      .set({ status: 'cancelled', holdExpiresAt: null, updatedAt: sql`now()` })
      .where(eq(bookings.id, booking.id))
      .returning();
    return { booking: cancelled!, changed: true };
  });
  return outcome.booking;
}

/** A booking its guest, staff of its club, or an admin may see; FORBIDDEN for others. */
export async function bookingById(scope: Scope, id: string): Promise<Booking | null> {
  requirePrincipal(scope.viewer);
  const booking = await scope.loaders.bookingById.load(id);
  if (!booking) return null;
  const user = await scope.currentUser();
  if (booking.userId === user.id) return booking;
  const night = await scope.loaders.nightById.load(booking.nightId);
  if (night && (await isStaffOf(scope, night.clubId))) return booking;
  throw forbidden('This booking belongs to another guest');
}

interface Change {
  booking: Booking;
  changed: boolean;
  expired?: boolean;
}

/**
 * Runs `decide` on the booking with its night locked and re-read after the lock, bumps
 * the night's version if it changed anything, and announces the change after commit.
 */
async function changeBooking(
  scope: Scope,
  id: string,
  decide: (tx: Tx, booking: Booking, night: LockedNight) => Promise<Change>,
): Promise<Change> {
  if (!isUuid(id)) throw notFound('Booking', id);
  const [found] = await scope.db.select({ nightId: bookings.nightId }).from(bookings).where(eq(bookings.id, id));
  if (!found) throw notFound('Booking', id);
  const outcome = await scope.db.transaction(async (tx) => {
    const night = await lockNight(tx, found.nightId);
    const [booking] = await tx.select().from(bookings).where(eq(bookings.id, id));
    const change = await decide(tx, booking!, night);
    if (change.changed) await bumpVersion(tx, night.id);
    return change;
  });
  if (outcome.changed) await announceAvailability(scope, outcome.booking.nightId);
  scope.loaders.bookingById.clear(id).prime(id, outcome.booking);
  return outcome;
}

/** CONFLICT (with the table's state) if the table is seated, held or booked for the night. */
export async function refuseIfTaken(tx: Tx, nightId: string, tableId: string, label: string): Promise<void> {
  const [seated] = await tx
    .select({ id: tableSessions.id })
    .from(tableSessions)
    .where(and(eq(tableSessions.nightId, nightId), eq(tableSessions.tableId, tableId), isNull(tableSessions.closedAt)))
    .limit(1);
  if (seated) throw conflict(`Table ${label} is seated`, { state: 'SEATED' });
  const [live] = await tx
    .select({ status: bookings.status })
    .from(bookings)
    .where(and(eq(bookings.nightId, nightId), eq(bookings.tableId, tableId), inArray(bookings.status, ['held', 'confirmed'])))
    .limit(1);
  if (live) {
    const state = live.status === 'held' ? 'HELD' : 'BOOKED';
    throw conflict(`Table ${label} is already ${state === 'HELD' ? 'held' : 'booked'} for this night`, { state });
  }
}

function digest(values: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(values)).digest('base64url');
}
