import type { SQL } from 'drizzle-orm';
import { executeRows } from '../../src/db/any.js';
import { openDatabase } from '../../src/db/client.js';
import { createDatabase } from './app.js';

/** A fresh, empty (unmigrated) PostgreSQL database, a way to query it, and its removal. */
export async function freshDatabaseOnly(): Promise<{ url: string; query<T>(statement: SQL): Promise<T[]>; drop(): Promise<void> }> {
  const database = await createDatabase(process.env.DATABASE_URL!);
  const handle = await openDatabase({ kind: 'postgres', url: database.url, poolMax: 2, statementTimeoutMs: 10_000, connectTimeoutS: 5 });
  return {
    url: database.url,
    query: (statement) => executeRows(handle.db, statement),
    async drop() {
      await handle.close();
      await database.drop();
    },
  };
}
