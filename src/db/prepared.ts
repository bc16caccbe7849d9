import { sql, type Column, type SQL } from 'drizzle-orm';
import type { PageRequest } from '../graphql/pagination.js';
import type { Database } from './client.js';
import { withCompiledMapper } from './row-mapper.js';

/**
 * Builds a set of prepared queries once per database. Building a Drizzle query costs
 * more CPU than PostgreSQL spends running a batched loader query here, so hot queries
 * are built once, with placeholders, and only executed per request.
 */
export function preparedPerDatabase<T>(build: (db: Database) => T): (db: Database) => T {
  const built = new WeakMap<Database, T>();
  return (db) => {
    let queries = built.get(db);
    if (!queries) {
      queries = build(db);
      // Each prepared select maps its rows with a mapper compiled once (db/row-mapper.ts).
      for (const query of Object.values(queries as object)) withCompiledMapper(query);
      built.set(db, queries);
    }
    return queries;
  };
}

/**
 * The keyset condition of a page after a cursor of (timestamp, id), as placeholders
 * `afterKey` and `afterId`; `direction` is the order of the page.
 */
export function afterCursor(time: Column, id: Column, direction: 'asc' | 'desc'): SQL {
  const operator = direction === 'asc' ? sql.raw('>') : sql.raw('<');
  return sql`(${time}, ${id}) ${operator} (${sql.placeholder('afterKey')}::timestamptz, ${sql.placeholder('afterId')}::uuid)`;
}

/** Placeholder values for a page: one row more than asked (to tell whether more exist), and the cursor. */
export function pageValues(page: PageRequest): Record<string, unknown> {
  const limit = page.first + 1;
  if (!page.after) return { limit };
  const [afterKey, afterId] = page.after;
  return { limit, afterKey, afterId };
}
