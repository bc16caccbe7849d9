import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_BUSY, DATABASE_TIMEOUT, openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { graphql } from '../support/client.js';
import { realServers } from '../support/app.js';
import { latch, within } from '../support/bounded.js';
import { freshDatabase, startFaultApp, until, type FaultApp } from './harness.js';

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

  /** Holds `n` of the pool's connections in open transactions until `release` is called. */
  async function holdConnections(db: FaultApp['db'], n: number) {
    const release = latch();
    const held = Array.from({ length: n }, () => latch());
    const transactions = held.map((holding) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`select 1`);
        holding.open();
        await release.wait;
      }),
    );
    await Promise.all(held.map((h) => h.wait));
    return {
      async release() {
        release.open();
        await Promise.all(transactions);
      },
    };
  }

  // How fast each of these answers is the bench's figure (fail-fast); here the bounds only
  // guard against a hang, far above DB_POOL_WAIT_TIMEOUT_MS, and the outcomes are asserted.
  it('keeps /healthz and /readyz answering, and fails a request waiting for a connection with DATABASE_BUSY', async () => {
    const busy = await holdConnections(app.db, 2);
    try {
      for (let i = 0; i < 5; i += 1) {
        expect((await within(5_000, '/healthz with the pool busy', fetch(`${app.base}/healthz`))).status).toBe(200);
      }
      // A busy pool is not an unreachable database: readiness checks on a connection of its own.
      expect((await within(5_000, '/readyz with the pool busy', fetch(`${app.base}/readyz`))).status).toBe(200);

      const refused = await within(5_000, 'a request with the pool busy', graphql(app.url, CLUBS));
      expect(refused.errors?.[0]).toMatchObject({ message: DATABASE_BUSY, extensions: { code: 'UNAVAILABLE', reason: 'DATABASE_BUSY', retryAfter: 1 } });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      // The caller of the database gets it in clear too.
      const direct = await within(5_000, 'a statement with the pool busy', app.db.execute(sql`select 1`).then(() => 'answered', (error: unknown) => messageChain(error)));
      expect(direct).toContain(DATABASE_BUSY);
    } finally {
      await busy.release();
    }
    const after = await graphql(app.url, CLUBS);
    expect(after.errors).toBeUndefined();
  });

  it('keeps a transaction to one lease, and lets it finish while others are refused', async () => {
    const other = await holdConnections(app.db, 1);
    const inside = latch();
    const finish = latch();
    const transaction = app.db.transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      inside.open();
      await finish.wait;
      // Its second statement runs on its own lease, although the pool is full.
      await tx.execute(sql`select 2`);
      return 'committed';
    });
    try {
      await inside.wait;
      const refused = await app.db.execute(sql`select 1`).then(() => 'answered', (error: unknown) => messageChain(error));
      expect(refused).toContain(DATABASE_BUSY);
      finish.open();
      expect(await transaction).toBe('committed');
    } finally {
      finish.open();
      await other.release();
    }
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
    const holding = latch();
    const release = latch();
    const running = handle.db.transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      holding.open();
      await release.wait;
    });
    await holding.wait;
    const queued = send(handle.db.execute(sql`select 1`));
    await until('the second caller to wait', () => handle.poolStats().waiting === 1);
    expect(handle.poolStats()).toEqual({ inUse: 1, waiting: 1, max: 1 });
    release.open();
    await Promise.all([running, queued]);
    expect(handle.poolStats()).toEqual({ inUse: 0, waiting: 0, max: 1 });
  });

  it('ends a statement past DB_STATEMENT_TIMEOUT_MS with a clear error, and keeps the connection usable', async () => {
    // pg_sleep(30) outlives the test's own timeout: only the statement timeout ends it in time.
    const outcome = await handle.db.execute(sql`select pg_sleep(30)`).then(() => 'answered', (error: unknown) => messageChain(error));
    expect(outcome).toContain(DATABASE_TIMEOUT);
    expect([...((await handle.db.execute(sql`select 2 as two`)) as unknown as object[])]).toEqual([{ two: 2 }]);
    expect(handle.poolStats().inUse).toBe(0);
  });
});
