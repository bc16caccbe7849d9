import { sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { telegramLinks } from '../../db/schema.js';
import { rowLoader, type BatchOptions } from '../../graphql/batch.js';

const queries = preparedPerDatabase((db) => ({
  linksByUser: db
    .select()
    .from(telegramLinks)
    .where(anyId(telegramLinks.userId, sql.placeholder('ids')))
    .prepare('telegram_links_by_user'),
}));

export function createTelegramLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  return {
    telegramLinkByUser: rowLoader((ids) => q.linksByUser.execute({ ids }), (link) => link.userId, options),
  };
}
