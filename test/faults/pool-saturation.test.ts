import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_BUSY, DATABASE_TIMEOUT, openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { graphql } from '../support/client.js';
import { realServers } from '../support/app.js';
import { freshDatabase, sleep, startFaultApp, timed, type FaultApp } from './harness.js';

/** The client-facing error, wherever it sits in the chain Drizzle and GraphQL wrap it in. */
function messageChain(error: unknown): string[] {
  const messages: string[] = [];
  for (let current = error as { message?: string; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    messages.push(String(current.message));
  }
  return messages;
}

const CLUBS = '{ clubs(first: 1) { edges { node { id } } } }';

/** Drizzle queries run when awaited: this sends one now and gives its outcome later. */
const send = <T>(query: PromiseLike<T>): Promise<T> => Promise.resolve(query);

// PGlite is one connection inside the process: there is no pool to saturate.
describe.skipIf(!realServers)('a saturated connection pool (needs real PostgreSQL: PGlite has no pool)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let app: FaultApp;
  beforeAll(async () => {
    database = await freshDatabase();
    app = await startFaultApp({ DATABASE_URL: database.url, DB_POOL_MAX: '2', DB_POOL_WAIT_TIMEOUT_MS: '300' });
  });
  afterAll(async () => {
    await app?.stop();
    await database?.drop();
  });

  it('answers /healthz within 100 ms, stays ready, and fails a request waiting for a connection after the bounded wait', async () => {
    // Every connection of the pool busy on a slow statement.
    const slow = [send(app.db.execute(sql`select pg_sleep(2)`)), send(app.db.execute(sql`select pg_sleep(2)`))];
    await sleep(200);

    for (let i = 0; i < 5; i += 1) {
      const health = await timed(() => fetch(`${app.base}/healthz`));
      expect(health.value.status).toBe(200);
      expect(health.ms).toBeLessThan(100);
    }
    // A busy pool is not an unreachable database: readiness checks on a connection of its own.
    const ready = await timed(() => fetch(`${app.base}/readyz`));
    expect(ready.value.status).toBe(200);
    expect(ready.ms).toBeLessThan(1_000);

    const refused = await timed(() => graphql(app.url, CLUBS));
    expect(refused.value.errors?.[0]).toMatchObject({ message: DATABASE_BUSY, extensions: { code: 'INTERNAL_SERVER_ERROR', reason: 'DATABASE_BUSY' } });
    expect(refused.ms).toBeGreaterThanOrEqual(250);
    expect(refused.ms).toBeLessThan(1_500);
    // The caller of the database gets it in clear too.
    const direct = await timed(() => app.db.execute(sql`select 1`).then(() => 'answered', (error: unknown) => messageChain(error)));
    expect(direct.value).toContain(DATABASE_BUSY);
    expect(direct.ms).toBeLessThan(1_500);

    await Promise.all(slow);
    const after = await graphql(app.url, CLUBS);
    expect(after.errors).toBeUndefined();
  });

  it('keeps a transaction to one lease, and lets it finish while others are refused', async () => {
    const transaction = app.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_sleep(0.5)`);
      await tx.execute(sql`select pg_sleep(0.5)`);
      return 'committed';
    });
    const other = send(app.db.execute(sql`select pg_sleep(1)`));
    await sleep(100);
    const refused = await app.db.execute(sql`select 1`).then(() => 'answered', (error: unknown) => messageChain(error));
    expect(refused).toContain(DATABASE_BUSY);
    expect(await transaction).toBe('committed');
    await other;
    expect([...((await app.db.execute(sql`select 1 as one`)) as unknown as object[])]).toEqual([{ one: 1 }]);
  });
});

describe.skipIf(!realServers)('pool usage and statement timeouts (needs real PostgreSQL: PGlite has no pool)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    database = await freshDatabase();
    handle = await openDatabase({
      kind: 'postgres',
      url: database.url,
      poolMax: 1,
      statementTimeoutMs: 500,
      connectTimeoutS: 2,
      poolWaitTimeoutMs: 300,
    });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it('reports connections in use and callers waiting, and frees both', async () => {
    expect(handle.poolStats()).toEqual({ inUse: 0, waiting: 0, max: 1 });
    const running = send(handle.db.execute(sql`select pg_sleep(0.25)`));
    await sleep(50);
    const queued = send(handle.db.execute(sql`select 1`));
    await sleep(50);
    expect(handle.poolStats()).toEqual({ inUse: 1, waiting: 1, max: 1 });
    await Promise.all([running, queued]);
    expect(handle.poolStats()).toEqual({ inUse: 0, waiting: 0, max: 1 });
  });

  it('ends a statement past DB_STATEMENT_TIMEOUT_MS with a clear error, and keeps the connection usable', async () => {
    const outcome = await timed(() => handle.db.execute(sql`select pg_sleep(3)`).then(() => 'answered', (error: unknown) => messageChain(error)));
    expect(outcome.value).toContain(DATABASE_TIMEOUT);
    expect(outcome.ms).toBeLessThan(1_500);
    expect([...((await handle.db.execute(sql`select 2 as two`)) as unknown as object[])]).toEqual([{ two: 2 }]);
    expect(handle.poolStats().inUse).toBe(0);
  });
});
