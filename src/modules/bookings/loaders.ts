import { inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { bookings } from '../../db/schema.js';
import { rowLoader, type BatchOptions } from '../../graphql/batch.js';

export function createBookingLoaders(db: Database, options: BatchOptions) {
  return {
    bookingById: rowLoader((ids) => db.select().from(bookings).where(inArray(bookings.id, ids)), (b) => b.id, options),
  };
}
