import { randomInt } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { agents, bookings, checkIns, guestEntries, nights, users, type Agent, type CheckIn, type GuestEntry, type Night } from '../../db/schema.js';
import { badInput, conflict, forbidden, isUniqueViolation, notFound } from '../../errors.js';
import { isUuid } from '../../graphql/batch.js';
import { toConnection, type PageRequest } from '../../graphql/pagination.js';
import { requirePrincipal } from '../../platform/auth.js';
import { isManagerOf, requireStaffOf } from '../staff/service.js';
import type { Executor, Tx } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import type { Scope } from '../scope.js';

/** The door's statements, built once: a scan is the busiest write of a night. */
const queries = preparedPerDatabase((db) => ({
  guestByToken: db
    .select({ entry: guestEntries, clubId: nights.clubId })
    .from(guestEntries)
    .innerJoin(nights, eq(nights.id, guestEntries.nightId))
    .where(eq(guestEntries.token, sql.placeholder('token')))
    .prepare('guest_by_token'),
  insertGuestCheckIn: db
    .insert(checkIns)
    .values({
      nightId: sql.placeholder('nightId'),
      guestEntryId: sql.placeholder('guestEntryId'),
      gate: sql.placeholder('gate'),
      checkedInBy: sql.placeholder('checkedInBy'),
    })
    .returning()
    .prepare('insert_guest_check_in'),
}));

/** Checks in the guest whose QR token this is, at `gate` (staff of the club). */
export async function checkIn(scope: Scope, input: { token: string; gate: string }): Promise<CheckIn> {
  const gate = validGate(input.gate);
  const [found] = input.token.length > 0 && input.token.length <= 100 ? await queries(scope.db).guestByToken.execute({ token: input.token }) : [];
  if (!found) throw notFound('Guest token', input.token);
  await requireStaffOf(scope, found.clubId, 'check-ins');
  const user = await scope.currentUser();
  return insertCheckIn(scope, found.clubId, { nightId: found.entry.nightId, guestEntryId: found.entry.id, gate, checkedInBy: user.id }, eq(checkIns.guestEntryId, found.entry.id));
}

/** Checks in a confirmed booking at `gate` (staff of the club). */
export async function checkInBooking(scope: Scope, input: { bookingId: string; gate: string }): Promise<CheckIn> {
  const gate = validGate(input.gate);
  const booking = isUuid(input.bookingId) ? await scope.loaders.bookingById.load(input.bookingId) : null;
  if (!booking) throw notFound('Booking', input.bookingId);
  const night = (await scope.loaders.nightById.load(booking.nightId))!;
  await requireStaffOf(scope, night.clubId, 'check-ins');
  const user = await scope.currentUser();
  return insertCheckIn(scope, night.clubId, { nightId: night.id, bookingId: booking.id, gate, checkedInBy: user.id }, eq(checkIns.bookingId, booking.id), async (tx) => {
    // Under a share lock: a cancel cannot commit between this check and the insert.
    const [current] = await tx.select({ status: bookings.status }).from(bookings).where(eq(bookings.id, booking.id)).for('share');
    if (current!.status !== 'confirmed') throw badInput(`This booking is ${current!.status}; only confirmed bookings check in`);
  });
}

/**
 * One check-in per guest, held by the database's unique indexes: of any number of
 * concurrent scans exactly one inserts; the others get CONFLICT saying when and at which
 * gate the guest came in. The club's night reports hear of it before the caller does.
 */
async function insertCheckIn(
  scope: Scope,
  clubId: string,
  values: typeof checkIns.$inferInsert,
  sameGuest: ReturnType<typeof eq>,
  precondition?: (tx: Tx) => Promise<void>,
): Promise<CheckIn> {
  try {
    const insert = async (db: Executor) => (await db.insert(checkIns).values(values).returning())[0]!;
    const checkedIn = precondition
      ? await scope.db.transaction(async (tx) => {
          await precondition(tx);
          return insert(tx);
        })
      : values.guestEntryId
        ? (await queries(scope.db).insertGuestCheckIn.execute({ ...values, checkedInBy: values.checkedInBy ?? null }))[0]!
        : await insert(scope.db);
    await scope.reports.changed([clubId]);
    return checkedIn;
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const [first] = await scope.db.select().from(checkIns).where(sameGuest);
    throw conflict(`Already checked in at ${first!.checkedInAt.toISOString()} through gate ${first!.gate}`, {
      checkedInAt: first!.checkedInAt.toISOString(),
      gate: first!.gate,
    });
  }
}

function validGate(gate: string): string {
  const trimmed = gate.trim();
  if (trimmed.length === 0 || trimmed.length > 50) throw badInput('gate must be 1 to 50 characters');
  return trimmed;
}

/**
 * Passes for whoever may read a guest-list entry's phone number and QR token: managers of
 * its club (and admins), and the promoter it is listed under. Hosts see the name and check
 * the guest in — by scanning the QR code, or finding them by name or exact phone — but read
 * neither. FORBIDDEN (naming `what`) otherwise.
 */
export async function requireGuestContactView(scope: Scope, entry: GuestEntry, what: string): Promise<void> {
  requirePrincipal(scope.viewer);
  const night = await scope.loaders.nightById.load(entry.nightId);
  if (night && (await isManagerOf(scope, night.clubId))) return;
  const agent = entry.agentId ? await scope.loaders.agentById.load(entry.agentId) : null;
  if (agent && agent.userId === (await scope.currentUser()).id) return;
  throw forbidden(`Only managers of the club and the guest's promoter may see a guest's ${what}`);
}

/** The night's guest list by name, searched by part of the name or the exact phone (staff). */
export async function guestsOf(scope: Scope, night: Night, search: string | null | undefined, page: PageRequest) {
  await requireStaffOf(scope, night.clubId, "a night's guest list");
  const term = search?.trim() ? search.trim() : null;
  if (term !== null && term.length > 100) throw badInput('search must be at most 100 characters');
  const rows = await scope.loaders.guestPageByNight.load({ parentId: night.id, filter: term, page });
  return toConnection(rows, page, (g) => [g.name, g.id]);
}

/** The night's check-ins, newest first, optionally at one gate (staff). */
export async function checkInsOf(scope: Scope, night: Night, gate: string | null | undefined, page: PageRequest) {
  await requireStaffOf(scope, night.clubId, "a night's check-ins");
  const rows = await scope.loaders.checkInPageByNight.load({ parentId: night.id, filter: gate?.trim() || null, page });
  return toConnection(rows, page, (c) => [c.checkedInAt.toISOString(), c.id]);
}

export interface EntryStatsModel {
  total: number;
  byGate: { gate: string; count: number }[];
  byQuarterHour: { startsAt: Date; count: number }[];
}

/**
 * Check-ins counted by gate, by quarter hour from the night's start, and in all — one
 * GROUP BY GROUPING SETS statement over the night's check-ins (staff).
 */
export async function entryStatsOf(scope: Scope, night: Night): Promise<EntryStatsModel> {
  await requireStaffOf(scope, night.clubId, "a night's entry stats");
  return countEntries(scope.db, night);
}

/** The night's check-ins counted (see `entryStatsOf`), for whoever already decided the caller may see them. */
export async function countEntries(db: Executor, night: Night): Promise<EntryStatsModel> {
  const entries = db
    .select({
      gate: checkIns.gate,
      quarter: sql<string>`date_bin('15 minutes', ${checkIns.checkedInAt}, ${night.startsAt.toISOString()}::timestamptz)`.as('quarter'),
    })
    .from(checkIns)
    .where(eq(checkIns.nightId, night.id))
    .as('entries');
  const rows = await db
    .select({
      gate: entries.gate,
      quarter: sql<string | null>`${entries.quarter}::text`,
      level: sql<number>`grouping(${entries.gate}, ${entries.quarter})::int`,
      count: sql<number>`count(*)::int`,
    })
    .from(entries)
    .groupBy(sql`grouping sets ((${entries.gate}), (${entries.quarter}), ())`);
  const stats: EntryStatsModel = { total: 0, byGate: [], byQuarterHour: [] };
  for (const row of rows) {
    // grouping(gate, quarter): 1 = rows by gate, 2 = rows by quarter hour, 3 = all rows.
    if (row.level === 1) stats.byGate.push({ gate: row.gate!, count: row.count });
    else if (row.level === 2) stats.byQuarterHour.push({ startsAt: new Date(row.quarter!), count: row.count });
    else stats.total = row.count;
  }
  stats.byGate.sort((a, b) => a.gate.localeCompare(b.gate));
  stats.byQuarterHour.sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
  return stats;
}

const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const CODE_LENGTH = 8;
const CODE_ATTEMPTS = 5;

/** 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), from crypto randomness. */
export function randomAgentCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i += 1) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/**
 * Makes the user a promoter of the club (its manager, or an admin) with a new code. The
 * unique index on codes decides: on a collision another code is drawn, never checked
 * first. A user who already is the club's promoter gets their agent back.
 */
export async function createAgent(
  scope: Scope,
  input: { userId: string; clubId?: string | null },
  generateCode: () => string = randomAgentCode,
): Promise<Agent> {
  const principal = requirePrincipal(scope.viewer);
  const clubId = input.clubId ?? (principal.roles.includes('manager') && principal.clubIds.length === 1 ? principal.clubIds[0]! : null);
  if (clubId === null) throw badInput('Name the club (clubId): you manage more than one, or none');
  if (!isUuid(clubId) || !(await scope.loaders.clubById.load(clubId))) throw notFound('Club', clubId);
  if (!(await isManagerOf(scope, clubId))) throw forbidden('Only a manager of the club may make promoters');
  const [user] = isUuid(input.userId) ? await scope.db.select({ id: users.id }).from(users).where(eq(users.id, input.userId)) : [];
  if (!user) throw notFound('User', input.userId);
  const existing = async () =>
    (await scope.db.select().from(agents).where(and(eq(agents.clubId, clubId), eq(agents.userId, user.id))))[0];
  const already = await existing();
  if (already) return already;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const [agent] = await scope.db.insert(agents).values({ clubId, userId: user.id, code: generateCode() }).returning();
      return agent!;
    } catch (error) {
      if (isUniqueViolation(error, 'agents_club_user_key')) return (await existing())!;
      if (!isUniqueViolation(error, 'agents_code_key') || attempt === CODE_ATTEMPTS) throw error;
    }
  }
}

