import { sql } from 'drizzle-orm';
import type { Database } from '../../src/db/client.js';
import type { RunContext } from '../scenario.js';
import { get, mismatch, readNight, timeUntil, type Answer } from './answers.js';
import type { Figures } from './figures.js';
import { MEASURED_REQUESTS_ONLY } from './server-env.js';

const POOL_MAX = 2;
export const POOL_WAIT_TIMEOUT_MS = 300;
/** The server under test: a pool of two that refuses after 300 ms, and nothing of its own using it. */
const SERVER_ENV = {
  DB_POOL_MAX: String(POOL_MAX),
  DB_POOL_WAIT_TIMEOUT_MS: String(POOL_WAIT_TIMEOUT_MS),
  // Far above the time the reads are held: they must end when the lock goes, not time out.
  DB_STATEMENT_TIMEOUT_MS: '20000',
  ...MEASURED_REQUESTS_ONLY,
};
/** Bounds that only guard against a hang, far above any honest answer. */
const BOUND_MS = 10_000;
const BLOCKED_BOUND_MS = 30_000;

export interface Target {
  /** The bench's own connection to the server's database. */
  db: Database;
  nightId: string;
}

/**
 * A pool whose every connection waits on a lock: PostgreSQL is there, only busy. The
 * server keeps answering /healthz and /readyz (readiness checks on a connection of its
 * own) and refuses a further request with DATABASE_BUSY after DB_POOL_WAIT_TIMEOUT_MS.
 * Resolves false, measuring nothing, for a server the bench did not start.
 */
export async function measureSaturatedPool(ctx: RunContext, target: Target, figures: Figures, repetitions: number): Promise<boolean> {
  const server = await ctx.startServer(SERVER_ENV);
  // --url's server: not started with this pool, so there is nothing to measure.
  if (server.pid === undefined) return false;
  const base = server.url.replace(/\/graphql$/, '');
  try {
    // The first answers pay for compiling the query and opening connections.
    for (const answer of [await readNight(server.url, target.nightId, ctx.signal, BOUND_MS), await get(`${base}/readyz`, ctx.signal, BOUND_MS)]) {
      const wrong = mismatch(answer, { status: 200 });
      if (wrong) figures.fail(`saturated pool, warm-up: ${wrong}`);
    }
    for (let i = 1; i <= repetitions; i += 1) {
      ctx.log(`saturated pool: repetition ${i} of ${repetitions}`);
      await saturatedOnce(ctx, target, figures, server.url, base);
    }
  } finally {
    await server.stop();
  }
  return true;
}

async function saturatedOnce(ctx: RunContext, target: Target, figures: Figures, url: string, base: string): Promise<void> {
  const lock = await lockNights(target.db);
  let blocked: Promise<Answer>[] = [];
  try {
    // Each read holds a pooled connection while it waits for the lock.
    blocked = Array.from({ length: POOL_MAX }, () => readNight(url, target.nightId, ctx.signal, BLOCKED_BOUND_MS));
    const full = await timeUntil(async () => (await lockWaiters(target.db)) >= POOL_MAX, 5, BOUND_MS, ctx.signal);
    if (full === undefined) {
      figures.fail(`saturated pool: ${POOL_MAX} reads were not waiting on the lock within ${BOUND_MS} ms`);
      return;
    }
    figures.answer('saturated.healthz', await get(`${base}/healthz`, ctx.signal, BOUND_MS), { status: 200 });
    figures.answer('saturated.readyz', await get(`${base}/readyz`, ctx.signal, BOUND_MS), { status: 200 });
    figures.answer('saturated.busy', await readNight(url, target.nightId, ctx.signal, BOUND_MS), { status: 503, reason: 'DATABASE_BUSY' });
  } finally {
    await lock.release();
  }
  // Once the lock goes, the held reads must answer: the pool was busy, not broken.
  for (const answer of await Promise.all(blocked)) {
    const wrong = mismatch(answer, { status: 200, answered: true });
    if (wrong) figures.fail(`saturated pool, a held read after the lock went: ${wrong}`);
  }
}

/**
 * `lock table nights in access exclusive mode` in a transaction held open until
 * `release`: every read of nights waits behind it, like a long statement would, without
 * an API that runs one (there is no pg_sleep through GraphQL).
 */
async function lockNights(db: Database): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const transaction = db.transaction(async (tx) => {
    await tx.execute(sql`lock table nights in access exclusive mode`);
    locked();
    await released;
  });
  // A failed BEGIN or LOCK must not leave us waiting for `locked`.
  await Promise.race([isLocked, transaction]);
  return {
    async release() {
      release();
      await transaction;
    },
  };
}

/** Sessions of this database waiting for a lock: the server's reads, queued behind ours. */
async function lockWaiters(db: Database): Promise<number> {
  const [row] = (await db.execute(
    sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
  )) as unknown as [{ n: number }];
  return row?.n ?? 0;
}
