import { and, asc, desc, eq, getTableColumns, gt, lte, sql } from 'drizzle-orm';
import { anyId, escapeLike } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { afterCursor, pageValues, preparedPerDatabase } from '../../db/prepared.js';
import { bookingStatuses, bookings, checkIns, nights, users } from '../../db/schema.js';
import { pageLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';

/** Which of a user's bookings: of nights to come (soonest first), over (latest first), or all (newest booking first). */
export type BookingsWhen = 'UPCOMING' | 'PAST' | 'ALL';
/** What narrows a night's booking list: statuses, and a search in the guest's name or subject. */
export interface NightBookingsFilter {
  statuses: readonly string[];
  search: string | null;
}

const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');
  /** Only bookings at these clubs (what staff may see of another user's); null: all. */
  const clubs = sql.placeholder('clubs');
  /** Each user's bookings, newest first: one LATERAL statement for all users. */
  const bookingPage = (withCursor: boolean) => {
    const perUser = db
      .select()
      .from(bookings)
      .where(
        and(
          eq(bookings.userId, users.id),
          sql`(${clubs}::uuid[] is null or exists (select 1 from ${nights} where ${nights.id} = ${bookings.nightId} and ${nights.clubId} = any(${clubs}::uuid[])))`,
          withCursor ? afterCursor(bookings.createdAt, bookings.id, 'desc') : undefined,
        ),
      )
      .orderBy(desc(bookings.createdAt), desc(bookings.id))
      .limit(sql.placeholder('limit'))
      .as('b');
    return db
      .select(perUser._.selectedFields)
      .from(users)
      .crossJoinLateral(perUser)
      .where(anyId(users.id, ids))
      .orderBy(perUser.userId, desc(perUser.createdAt), desc(perUser.id))
      .prepare(withCursor ? 'booking_page_after' : 'booking_page');
  };
  /** Each user's bookings of nights to come (soonest first) or over (latest first), by the night's start. */
  const bookingByNightPage = (when: 'UPCOMING' | 'PAST', withCursor: boolean) => {
    const order = when === 'UPCOMING' ? asc : desc;
    const perUser = db
      // Flat: Drizzle's subqueries cannot carry nested objects.
      .select({ ...getTableColumns(bookings), nightStartsAt: sql<Date>`${nights.startsAt}`.mapWith(nights.startsAt).as('night_starts_at') })
      .from(bookings)
      .innerJoin(nights, eq(nights.id, bookings.nightId))
      .where(
        and(
          eq(bookings.userId, users.id),
          when === 'UPCOMING' ? gt(nights.endsAt, sql`now()`) : lte(nights.endsAt, sql`now()`),
          sql`(${clubs}::uuid[] is null or ${nights.clubId} = any(${clubs}::uuid[]))`,
          withCursor ? afterCursor(nights.startsAt, bookings.id, when === 'UPCOMING' ? 'asc' : 'desc') : undefined,
        ),
      )
      .orderBy(order(nights.startsAt), order(bookings.id))
      .limit(sql.placeholder('limit'))
      .as('b');
    return db
      .select(perUser._.selectedFields)
      .from(users)
      .crossJoinLateral(perUser)
      .where(anyId(users.id, ids))
      .prepare(`booking_${when.toLowerCase()}_page${withCursor ? '_after' : ''}`);
  };
  /**
   * A page of each night's bookings, newest first, with the guest: statuses as a text
   * array, the search (ILIKE pattern, or null for none) in display name or subject. It
   * walks the night's bookings in index order (bookings_night_created_idx) and stops at
   * the page's end; the search is a scalar subquery on the guest's row, which PostgreSQL
   * evaluates per booking and cannot turn into a join that starts from `users` (as a join
   * it read every user of the platform to find the matching names, then sorted). The
   * guests of the page's rows are joined after the LIMIT.
   */
  const nightBookingPage = (withCursor: boolean) => {
    const pattern = sql.placeholder('pattern');
    const perNight = db
      .select(getTableColumns(bookings))
      .from(bookings)
      .where(
        and(
          eq(bookings.nightId, nights.id),
          sql`${bookings.status} = any(${sql.placeholder('statuses')}::text[])`,
          sql`(${pattern}::text is null or (select g.display_name ilike ${pattern}::text or g.subject ilike ${pattern}::text
                from ${users} g where g.id = ${bookings.userId}))`,
          withCursor ? afterCursor(bookings.createdAt, bookings.id, 'desc') : undefined,
        ),
      )
      .orderBy(desc(bookings.createdAt), desc(bookings.id))
      .limit(sql.placeholder('limit'))
      .as('nb');
    return db
      .select({ ...perNight._.selectedFields, guestSubject: users.subject, guestDisplayName: users.displayName, guestCreatedAt: users.createdAt })
      .from(nights)
      .crossJoinLateral(perNight)
      .innerJoin(users, eq(users.id, perNight.userId))
      .where(anyId(nights.id, ids))
      .orderBy(perNight.nightId, desc(perNight.createdAt), desc(perNight.id))
      .prepare(`night_booking_page${withCursor ? '_after' : ''}`);
  };
  return {
    bookingsById: db.select().from(bookings).where(anyId(bookings.id, ids)).prepare('bookings_by_id'),
    bookingPage: bookingPage(false),
    bookingPageAfter: bookingPage(true),
    upcomingPage: bookingByNightPage('UPCOMING', false),
    upcomingPageAfter: bookingByNightPage('UPCOMING', true),
    pastPage: bookingByNightPage('PAST', false),
    pastPageAfter: bookingByNightPage('PAST', true),
    nightBookingPage: nightBookingPage(false),
    nightBookingPageAfter: nightBookingPage(true),
    checkInsOfBookings: db.select().from(checkIns).where(anyId(checkIns.bookingId, ids)).prepare('check_ins_of_bookings'),
  };
});

/** A booking with the night start it is ordered by (a user's upcoming and past bookings). */
export type BookingAtNight = { booking: typeof bookings.$inferSelect; startsAt: Date };
/** A booking of a night's list with its guest. */
export type NightBookingRow = { booking: typeof bookings.$inferSelect; guest: typeof users.$inferSelect };

/** A page filter's clubs: a comma-separated list of club ids, or null for every club. */
const clubsOf = (filter: string | null) => (filter ? filter.split(',') : null);

export function createBookingLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  const bookingById = rowLoader((ids) => q.bookingsById.execute({ ids }), (b) => b.id, options);
  const bookingsByUser = pageLoader(
    async (userIds, page, clubs) => {
      const rows = await (page.after ? q.bookingPageAfter : q.bookingPage).execute({ ids: userIds, clubs: clubsOf(clubs), ...pageValues(page) });
      for (const row of rows) bookingById.prime(row.id, row);
      return rows;
    },
    (b) => b.userId,
    options,
  );
  const bookingsByUserAndNight = pageLoader<BookingAtNight>(
    async (userIds, page, filter) => {
      const [when, clubs] = filter!.split('|') as [BookingsWhen, string];
      const run =
        when === 'UPCOMING' ? (page.after ? q.upcomingPageAfter : q.upcomingPage) : page.after ? q.pastPageAfter : q.pastPage;
      const rows = (await run.execute({ ids: userIds, clubs: clubsOf(clubs || null), ...pageValues(page) })).map(({ nightStartsAt, ...booking }) => ({ booking, startsAt: nightStartsAt }));
      for (const row of rows) bookingById.prime(row.booking.id, row.booking);
      return rows;
    },
    (row) => row.booking.userId,
    options,
  );
  const bookingsByNight = pageLoader<NightBookingRow>(
    async (nightIds, page, filter) => {
      const { statuses, search } = JSON.parse(filter!) as NightBookingsFilter;
      const run = page.after ? q.nightBookingPageAfter : q.nightBookingPage;
      const flat = await run.execute({
        ids: nightIds,
        statuses: statuses.length > 0 ? statuses : bookingStatuses,
        pattern: search === null ? null : `%${escapeLike(search)}%`,
        ...pageValues(page),
      });
      const rows = flat.map(({ guestSubject, guestDisplayName, guestCreatedAt, ...booking }) => ({
        booking,
        guest: { id: booking.userId, subject: guestSubject, displayName: guestDisplayName, createdAt: guestCreatedAt },
      }));
      for (const row of rows) bookingById.prime(row.booking.id, row.booking);
      return rows;
    },
    (row) => row.booking.nightId,
    options,
  );
  const checkInByBooking = rowLoader((ids) => q.checkInsOfBookings.execute({ ids }), (c) => c.bookingId!, options);
  return { bookingById, bookingsByUser, bookingsByUserAndNight, bookingsByNight, checkInByBooking };
}
