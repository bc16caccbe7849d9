import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Config } from '../config.js';
import type { Logger } from '../platform/logger.js';
import { GuardedPool, postgresOptions, type PoolStats } from './guarded-pool.js';
import { instrumentPglite } from './pglite.js';
import * as schema from './schema.js';

/** The database every module works with; it does not know which driver is behind it. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle, usable wherever a `Database` is. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
export type Executor = Database | Tx;
export type { PoolStats };

export interface DatabaseHandle {
  db: Database;
  kind: 'postgres' | 'pglite';
  /**
   * Resolves when the database answers a trivial query. On PostgreSQL it runs on a
   * connection of its own, not the pool's (a busy pool is not an unreachable database),
   * within a few seconds; while the database is known to be unreachable it rejects at once.
   */
  ping(): Promise<void>;
  /** Pool usage now (PGlite: one connection, statements queue behind the running one). */
  poolStats(): PoolStats;
  /** Closes every connection; waits up to 5 s for running statements unless `force`. */
  close(options?: { force?: boolean }): Promise<void>;
  /** postgres.js only: a single-connection client for work that must stay on one session. */
  dedicatedClient?: () => postgres.Sql;
}

export interface DatabaseOptions {
  /** Told when PostgreSQL becomes unreachable and when it answers again. */
  logger?: Pick<Logger, 'warn' | 'info'>;
}

export function openDatabase(config: Config['database'], options: DatabaseOptions = {}): Promise<DatabaseHandle> {
  return config.kind === 'postgres' ? openPostgres(config, options) : openPglite(config.dataDir);
}

async function openPostgres(config: Extract<Config['database'], { kind: 'postgres' }>, options: DatabaseOptions): Promise<DatabaseHandle> {
  const pool = new GuardedPool(config, options.logger);
  const db = drizzlePostgres({ client: pool.instrumented(), schema }) as unknown as Database;
  return {
    db,
    kind: 'postgres',
    ping: () => pool.ping(),
    poolStats: () => pool.stats(),
    close: (closing) => pool.close(closing?.force ?? false),
    dedicatedClient: () => postgres(config.url, postgresOptions(config, 1)),
  };
}

async function openPglite(dataDir: string | undefined): Promise<DatabaseHandle> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { pg_trgm, btree_gist } });
  const running = { count: 0 };
  const db = drizzlePglite({ client: instrumentPglite(client, running), schema }) as unknown as Database;
  return {
    db,
    kind: 'pglite',
    ping: async () => {
      await client.query('select 1');
    },
    // PGlite is one connection: one statement or transaction runs, the others queue.
    poolStats: () => ({ inUse: Math.min(running.count, 1), waiting: Math.max(running.count - 1, 0), max: 1 }),
    close: () => client.close(),
  };
}

export { DATABASE_BUSY, DATABASE_TIMEOUT, DATABASE_UNAVAILABLE, DatabaseUnavailableError, type DatabaseUnavailableReason } from './failures.js';
