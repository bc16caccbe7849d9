import { sql } from 'drizzle-orm';
import type { Database } from './client.js';
import { preparedPerDatabase } from './prepared.js';

const queries = preparedPerDatabase((db) => ({
  next: db.select({ version: sql<string>`nextval('vote_results_version')` }).from(sql`(values (1)) as one`).prepare('next_change_version'),
}));

/**
 * The next value of the sequence that versions vote results and night reports (named for
 * the first of them): it never goes back, whatever happens to the caches, so a counter
 * raised to it after a commit tells every reader that figures computed before are stale.
 */
export async function nextChangeVersion(db: Database): Promise<number> {
  const [row] = await queries(db).next.execute();
  return Number(row!.version);
}
