import { sql } from 'drizzle-orm';
import type { Database } from './client.js';

/**
 * The next value of the sequence that versions vote results and night reports (named for
 * the first of them): it never goes back, whatever happens to the caches, so a counter
 * raised to it after a commit tells every reader that figures computed before are stale.
 */
export async function nextChangeVersion(db: Database): Promise<number> {
  const [row] = await db.select({ version: sql<string>`nextval('vote_results_version')` }).from(sql`(values (1)) as one`);
  return Number(row!.version);
}
