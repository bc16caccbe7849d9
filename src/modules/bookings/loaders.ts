import { sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { bookings } from '../../db/schema.js';
import { rowLoader, type BatchOptions } from '../../graphql/batch.js';

const queries = preparedPerDatabase((db) => ({
  bookingsById: db.select().from(bookings).where(anyId(bookings.id, sql.placeholder('ids'))).prepare('bookings_by_id'),
}));

export function createBookingLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  return {
    bookingById: rowLoader((ids) => q.bookingsById.execute({ ids }), (b) => b.id, options),
  };
}
