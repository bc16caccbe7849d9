import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { bookings, clubs, deposits, nights, tableSessions, tables, type Deposit, type TableSession } from '../../db/schema.js';
import { AppError, ErrorCode, badInput, conflict, isUniqueViolation, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { requireStaffOf } from '../staff/service.js';
import { refuseIfTaken, releaseExpiredHolds } from '../bookings/service.js';
import { announceAvailability, bumpVersion, lockNight } from '../clubs/service.js';
import type { Scope } from '../scope.js';

export interface OpenTableSessionInput {
  nightId: string;
  tableId: string;
  bookingId?: string | null;
}

/**
 * Seats a party: with `bookingId`, the guests of that confirmed booking of this table;
 * without, a walk-in at a table nobody holds or booked. Staff of the club only. The
 * night's row lock orders it with every booking change; the partial unique index keeps
 * one open session per table.
 */
export async function openTableSession(scope: Scope, input: OpenTableSessionInput): Promise<TableSession> {
  const night = isUuid(input.nightId) ? await scope.loaders.nightById.load(input.nightId) : null;
  if (!night) throw notFound('Night', input.nightId);
  await requireStaffOf(scope, night.clubId, 'table sessions');
  const user = await scope.currentUser();
  if (!isUuid(input.tableId)) throw badInput(`Table ${JSON.stringify(input.tableId)} is not a table of this night's club`);
  if (input.bookingId != null && !isUuid(input.bookingId)) throw notFound('Booking', input.bookingId);
  let session: TableSession;
  try {
    session = await scope.db.transaction(async (tx) => {
      await lockNight(tx, night.id);
      const [table] = await tx.select().from(tables).where(and(eq(tables.id, input.tableId), eq(tables.clubId, night.clubId)));
      if (!table) throw badInput(`Table ${JSON.stringify(input.tableId)} is not a table of this night's club`);
      if (input.bookingId != null) {
        const [booking] = await tx.select().from(bookings).where(eq(bookings.id, input.bookingId));
        if (!booking) throw notFound('Booking', input.bookingId);
        if (booking.nightId !== night.id || booking.tableId !== table.id) throw badInput('That booking is for another table or night');
        if (booking.status !== 'confirmed') throw badInput(`That booking is ${booking.status}, not confirmed`);
        // Its own booking holds the table; only an open session would be in the way.
        const [seated] = await tx
          .select({ id: tableSessions.id })
          .from(tableSessions)
          .where(and(eq(tableSessions.nightId, night.id), eq(tableSessions.tableId, table.id), sql`${tableSessions.closedAt} is null`));
        if (seated) throw conflict(`Table ${table.label} is already seated`, { state: 'SEATED' });
      } else {
        // A walk-in needs the table free of sessions, holds and bookings.
        await releaseExpiredHolds(tx, night.id, table.id);
        await refuseIfTaken(tx, night.id, table.id, table.label);
      }
      const [opened] = await tx
        .insert(tableSessions)
        .values({ nightId: night.id, tableId: table.id, bookingId: input.bookingId ?? null, openedBy: user.id })
        .returning();
      await bumpVersion(tx, night.id);
      return opened!;
    });
  } catch (error) {
    if (isUniqueViolation(error, 'table_sessions_open_table_key')) throw conflict('This table is already seated', { state: 'SEATED' });
    throw error;
  }
  await announceAvailability(scope, night.id);
  return session;
}

/** Ends a session (staff of the club); closing a closed session returns it unchanged. */
export async function closeTableSession(scope: Scope, id: string): Promise<TableSession> {
  const found = await sessionWithClub(scope, id);
  await requireStaffOf(scope, found.clubId, 'table sessions');
  const user = await scope.currentUser();
  const outcome = await scope.db.transaction(async (tx) => {
    await lockNight(tx, found.session.nightId);
    const [current] = await tx.select().from(tableSessions).where(eq(tableSessions.id, id));
    if (current!.closedAt) return { session: current!, changed: false };
    const [closed] = await tx
      .update(tableSessions)
      .set({ closedAt: sql`greatest(now(), ${tableSessions.openedAt})`, closedBy: user.id })
      .where(eq(tableSessions.id, id))
      .returning();
    await bumpVersion(tx, current!.nightId);
    return { session: closed!, changed: true };
  });
  if (outcome.changed) await announceAvailability(scope, outcome.session.nightId);
  return outcome.session;
}

export interface RecordDepositInput {
  sessionId: string;
  amountMinor: number;
  currency: string;
  idempotencyKey: string;
}

/**
 * Records a deposit on an open session (staff of the club), in the club's currency. The
 * session row is locked while writing, so a deposit and a close never cross: a deposit
 * on a closed session is CONFLICT. A replay with the same key and input returns the
 * first deposit; other input under the same key is IDEMPOTENCY_KEY_REUSED.
 */
export async function recordDeposit(scope: Scope, input: RecordDepositInput): Promise<Deposit> {
  const found = await sessionWithClub(scope, input.sessionId);
  await requireStaffOf(scope, found.clubId, 'deposits');
  if (!Number.isInteger(input.amountMinor) || input.amountMinor <= 0) {
    throw badInput(`amountMinor must be a positive whole number of minor units, got ${input.amountMinor}`);
  }
  if (!/^[A-Z]{3}$/.test(input.currency)) throw badInput(`currency must be an ISO 4217 code such as EUR, got ${JSON.stringify(input.currency)}`);
  if (input.idempotencyKey.length === 0 || input.idempotencyKey.length > 200) throw badInput('idempotencyKey must be 1 to 200 characters');
  if (input.currency !== found.currency) throw badInput(`This club takes deposits in ${found.currency}, not ${input.currency}`);
  const user = await scope.currentUser();
  const requestHash = createHash('sha256').update(JSON.stringify([input.sessionId, input.amountMinor, input.currency])).digest('base64url');
  const replay = async () => {
    const [previous] = await scope.db
      .select()
      .from(deposits)
      .where(and(eq(deposits.recordedBy, user.id), eq(deposits.idempotencyKey, input.idempotencyKey)));
    if (previous && previous.requestHash !== requestHash) {
      throw new AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotencyKey was used for a different deposit');
    }
    return previous ?? null;
  };
  const earlier = await replay();
  if (earlier) return earlier;
  try {
    const deposit = await scope.db.transaction(async (tx) => {
      const [session] = await tx.select().from(tableSessions).where(eq(tableSessions.id, input.sessionId)).for('update');
      if (session!.closedAt) throw conflict('This table session is closed; deposits go to an open session');
      const [deposit] = await tx
        .insert(deposits)
        .values({ sessionId: session!.id, amountMinor: input.amountMinor, currency: input.currency, recordedBy: user.id, idempotencyKey: input.idempotencyKey, requestHash })
        .returning();
      return deposit!;
    });
    await scope.reports.changed([found.clubId]);
    return deposit;
  } catch (error) {
    if (isUniqueViolation(error, 'deposits_recorder_idempotency_key')) {
      const winner = await replay();
      if (winner) return winner;
    }
    throw error;
  }
}

/** A session with its night's club and currency; NOT_FOUND if there is none. */
async function sessionWithClub(scope: Scope, id: string) {
  if (!isUuid(id)) throw notFound('Table session', id);
  const [found] = await scope.db
    .select({ session: tableSessions, clubId: nights.clubId, currency: clubs.currency })
    .from(tableSessions)
    .innerJoin(nights, eq(nights.id, tableSessions.nightId))
    .innerJoin(clubs, eq(clubs.id, nights.clubId))
    .where(eq(tableSessions.id, id));
  if (!found) throw notFound('Table session', id);
  return found;
}
