import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { executeRows } from './any.js';
import type { DatabaseHandle } from './client.js';

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));
/** Any fixed number; shared by every instance that may migrate the same database. */
const MIGRATION_LOCK_KEY = 7_204_311_901;

/**
 * Applies pending migrations. On PostgreSQL several instances may start at once, so the
 * work runs on one dedicated connection holding a session advisory lock: lock, migrate
 * and unlock all happen on that same connection, which is then closed.
 */
export async function migrate(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === 'pglite') {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder });
    return;
  }
  const client = handle.dedicatedClient!();
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migratePostgres(drizzlePostgres({ client }), { migrationsFolder });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

/**
 * How many of the repository's migrations the database has not applied yet (all of them
 * on an empty database): for a server started with MIGRATE_ON_START=false, which must not
 * run on a schema older than its code.
 */
export async function pendingMigrations(handle: DatabaseHandle): Promise<number> {
  const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as { entries: unknown[] };
  let applied = 0;
  try {
    // Drizzle's own bookkeeping, in both drivers' migrators.
    const [row] = await executeRows<{ count: number }>(handle.db, sql`select count(*)::int as count from drizzle.__drizzle_migrations`);
    applied = row?.count ?? 0;
  } catch {
    // No bookkeeping table: nothing was ever applied.
  }
  return Math.max(0, journal.entries.length - applied);
}
