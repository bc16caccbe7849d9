import { randomBytes } from 'node:crypto';
import { getTableColumns, sql, type InferInsertModel, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { Config } from '../src/config.js';
import type { Database } from '../src/db/client.js';

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database next to the one `adminUrl` names; `drop` removes it even with sessions still open. */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `nightgraph_bench_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.unsafe(`create database ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE: a server that did not shut down cleanly must not keep the database alive.
    drop: () => withAdmin(adminUrl, (admin) => admin.unsafe(`drop database if exists ${name} with (force)`)),
  };
}

async function withAdmin(adminUrl: string, work: (admin: postgres.Sql) => Promise<unknown>): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await work(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** How the bench itself connects: a small pool, and room for data generation at large scales. */
export function benchDatabaseConfig(url: string): Config['database'] {
  return { kind: 'postgres', url, poolMax: 4, statementTimeoutMs: 10 * 60_000, connectTimeoutS: 5 };
}

/** An SQL expression for each column to fill; columns left out take their defaults. */
export type ColumnExpressions<T extends PgTable> = { [K in keyof InferInsertModel<T>]: SQL };

/**
 * `insert into <table> (<columns>) select <expressions> from <from>`: one statement for any
 * number of rows. Drizzle's own `insert().select()` needs every column of the table in
 * order, so a column added to the schema later would break the bench; naming only the
 * columns we fill keeps working.
 */
export async function insertSelect<T extends PgTable>(
  db: Database,
  table: T,
  values: ColumnExpressions<T>,
  from: SQL,
): Promise<void> {
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  const entries = Object.entries(values as Record<string, SQL>);
  const names = entries.map(([key]) => sql.identifier(columns[key]!.name));
  const expressions = entries.map(([, expression]) => expression);
  await db.execute(
    sql`insert into ${table} (${sql.join(names, sql`, `)}) select ${sql.join(expressions, sql`, `)} from ${from}`,
  );
}

/**
 * The server's Redis key prefix for one bench run (REDIS_URL set): the run's snapshots and
 * channels stay apart from anyone else's on the same Redis, and `drop` deletes its keys.
 */
export function benchRedisPrefix(redisUrl: string, run: string) {
  const prefix = `nightgraph-bench-${run}:`;
  return {
    prefix,
    async drop(): Promise<number> {
      const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        let deleted = 0;
        for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
          if (keys.length > 0) deleted += await redis.del(...keys);
        }
        return deleted;
      } finally {
        redis.disconnect();
      }
    },
  };
}
