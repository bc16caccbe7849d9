import { and, desc, eq, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { afterCursor, pageValues, preparedPerDatabase } from '../../db/prepared.js';
import { bookings, users } from '../../db/schema.js';
import { pageLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';

const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');
  /** Each user's bookings, newest first: one LATERAL statement for all users. */
  const bookingPage = (withCursor: boolean) => {
    const perUser = db
      .select()
      .from(bookings)
      .where(and(eq(bookings.userId, users.id), withCursor ? afterCursor(bookings.createdAt, bookings.id, 'desc') : undefined))
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
  return {
    bookingsById: db.select().from(bookings).where(anyId(bookings.id, ids)).prepare('bookings_by_id'),
    bookingPage: bookingPage(false),
    bookingPageAfter: bookingPage(true),
  };
});

export function createBookingLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  const bookingById = rowLoader((ids) => q.bookingsById.execute({ ids }), (b) => b.id, options);
  const bookingsByUser = pageLoader(
    async (userIds, page) => {
      const rows = await (page.after ? q.bookingPageAfter : q.bookingPage).execute({ ids: userIds, ...pageValues(page) });
      for (const row of rows) bookingById.prime(row.id, row);
      return rows;
    },
    (b) => b.userId,
    options,
  );
  return { bookingById, bookingsByUser };
}
