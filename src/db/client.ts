import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction as PgliteTransaction } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Config } from '../config.js';
import { timeStatement } from '../platform/sql-stats.js';
import * as schema from './schema.js';

/** The database every module works with; it does not know which driver is behind it. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction handle, usable wherever a `Database` is. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
export type Executor = Database | Tx;

export interface DatabaseHandle {
  db: Database;
  kind: 'postgres' | 'pglite';
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** postgres.js only: a single-connection client for work that must stay on one session. */
  dedicatedClient?: () => postgres.Sql;
}

export function openDatabase(config: Config['database']): Promise<DatabaseHandle> {
  return config.kind === 'postgres' ? openPostgres(config) : openPglite(config.dataDir);
}

const IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

function postgresOptions(config: Extract<Config['database'], { kind: 'postgres' }>, max: number) {
  return {
    max,
    connect_timeout: config.connectTimeoutS,
    idle_timeout: 30,
    onnotice: () => {},
    // postgres.js 3.4.9 skips reserving a transaction's connection when its BEGIN is the
    // query that fills the connection's pipeline (porsager/postgres#823, #1189; fixes in
    // open PRs #1207, #1218): BEGIN reaches PostgreSQL, the call fails with
    // UNSAFE_TRANSACTION and the connection returns to the pool inside a transaction.
    // Measured here under the availability-storm bench. A pipeline that never fills
    // keeps BEGIN off that path.
    max_pipeline: Number.MAX_SAFE_INTEGER,
    connection: {
      // Every statement is bounded; a stuck query cannot hold a pooled connection forever.
      statement_timeout: config.statementTimeoutMs,
      // The server ends any transaction left open on a connection, whatever left it so.
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
      application_name: 'nightgraph',
    },
    // `max_pipeline` is a postgres.js option its type declarations leave out.
  } as postgres.Options<Record<string, postgres.PostgresType>>;
}

async function openPostgres(config: Extract<Config['database'], { kind: 'postgres' }>): Promise<DatabaseHandle> {
  const client = postgres(config.url, postgresOptions(config, config.poolMax));
  const db = drizzlePostgres({ client: instrumentPostgres(client), schema }) as unknown as Database;
  return {
    db,
    kind: 'postgres',
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.end({ timeout: 5 }),
    dedicatedClient: () => postgres(config.url, postgresOptions(config, 1)),
  };
}

async function openPglite(dataDir: string | undefined): Promise<DatabaseHandle> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { pg_trgm } });
  const db = drizzlePglite({ client: instrumentPglite(client), schema }) as unknown as Database;
  return {
    db,
    kind: 'pglite',
    ping: async () => {
      await client.query('select 1');
    },
    close: () => client.close(),
  };
}

/**
 * Wraps the postgres.js client so that every statement Drizzle sends — on the pool, in a
 * transaction or a savepoint — is counted and timed for the current request, and is
 * sent as a prepared statement. Drizzle sends unnamed statements unless each query is
 * given a name, and PostgreSQL then plans every execution afresh: measured here, planning
 * the availability join took 1.1 ms against 0.17 ms to run it. postgres.js caches one
 * prepared statement per statement text and connection; the texts are few because lists
 * of ids travel as one array parameter (see `anyId`).
 */
function instrumentPostgres(client: postgres.Sql): postgres.Sql {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          timedPendingQuery(target.unsafe(query, params, { ...options, prepare: true }));
      }
      if (property === 'begin' || property === 'savepoint') {
        const original = Reflect.get(target, property, receiver) as (...a: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const callback = args.pop() as (tx: postgres.Sql) => unknown;
          return original.call(target, ...args, (tx: postgres.Sql) => callback(instrumentPostgres(tx)));
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

/**
 * postgres.js queries are lazy promises that run when awaited and are configured by
 * chained calls (`.values()`) first; timing starts at that await.
 */
function timedPendingQuery<T extends PromiseLike<unknown>>(query: T): T {
  const then = query.then.bind(query);
  Object.defineProperty(query, 'then', {
    configurable: true,
    value: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) =>
      timeStatement(() => ({ then })).then(onFulfilled, onRejected),
  });
  return query;
}

function instrumentPglite<C extends PGlite | PgliteTransaction>(client: C): C {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'query' || property === 'exec') {
        const original = Reflect.get(target, property, receiver) as (...a: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) => timeStatement(() => original.apply(target, args));
      }
      if (property === 'transaction') {
        const original = (target as PGlite).transaction.bind(target);
        return (callback: (tx: PgliteTransaction) => Promise<unknown>) =>
          original((tx) => callback(instrumentPglite(tx)));
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
