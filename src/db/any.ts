import { sql, type Column, type Placeholder, type SQL } from 'drizzle-orm';
import type { Database } from './client.js';

/**
 * `column = any($1::uuid[])` with the ids as one array parameter (or a placeholder for
 * one). Unlike `in ($1, …, $n)` the statement text does not change with the batch size,
 * so one prepared statement, and one cached plan, serves every batch.
 */
export function anyId(column: Column | SQL, ids: readonly string[] | Placeholder): SQL {
  return sql`${column} = any(${Array.isArray(ids) ? sql.param([...ids]) : ids}::uuid[])`;
}

/** Makes `%`, `_` and `\` in a search match themselves in LIKE and ILIKE patterns. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Runs a statement Drizzle's builders cannot express (e.g. INSERT … SELECT into some of
 * a table's columns) and returns its rows, whichever driver is behind the database.
 */
export async function executeRows<T>(db: Pick<Database, 'execute'>, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
}
