import { jsonb, pgTable, timestamp, uuid } from 'drizzle-orm/pg-core';
import { nights } from './clubs.js';

/**
 * The final report of a night that is over, computed once by whichever instance claims
 * the night (see modules/reports/final.ts) and read as one row from then on.
 */
export const nightReports = pgTable('night_reports', {
  nightId: uuid('night_id')
    .primaryKey()
    .references(() => nights.id, { onDelete: 'cascade' }),
  /** A `NightFigures` document. */
  figures: jsonb('figures').notNull(),
  computedAt: timestamp('computed_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});
