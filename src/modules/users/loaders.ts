import { sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { users } from '../../db/schema.js';
import { rowLoader, type BatchOptions } from '../../graphql/batch.js';

const queries = preparedPerDatabase((db) => ({
  usersById: db.select().from(users).where(anyId(users.id, sql.placeholder('ids'))).prepare('users_by_id'),
}));

export function createUserLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  return { userById: rowLoader((ids) => q.usersById.execute({ ids }), (u) => u.id, options) };
}
