import { sql } from 'drizzle-orm';
import { anyId, executeRows } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { users } from '../../db/schema.js';
import { listLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';

const queries = preparedPerDatabase((db) => ({
  usersById: db.select().from(users).where(anyId(users.id, sql.placeholder('ids'))).prepare('users_by_id'),
}));

export function createUserLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  /** The clubs each user is a guest (a booking), promoter or staff member of: one statement for all users. */
  const clubsOfUser = listLoader(
    (ids) =>
      executeRows<{ userId: string; clubId: string }>(
        db,
        sql`select distinct user_id as "userId", club_id as "clubId" from (
              select b.user_id, n.club_id from bookings b join nights n on n.id = b.night_id where b.user_id = any(${sql.param([...ids])}::uuid[])
              union all select user_id, club_id from agents where user_id = any(${sql.param([...ids])}::uuid[])
              union all select user_id, club_id from club_staff where removed_at is null and user_id = any(${sql.param([...ids])}::uuid[])) c`,
      ),
    (row) => row.userId,
    options,
  );
  return {
    userById: rowLoader((ids) => q.usersById.execute({ ids }), (u) => u.id, options),
    clubsOfUser,
  };
}
