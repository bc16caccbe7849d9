import { eq, sql } from 'drizzle-orm';
import { clubs, nights } from '../../src/db/schema.js';
import { Figures } from '../fail-fast/figures.js';
import { measureSaturatedPool, POOL_WAIT_TIMEOUT_MS, type Target } from '../fail-fast/saturated-pool.js';
import { measureUnreachable, STATEMENT_TIMEOUT_MS } from '../fail-fast/unreachable.js';
import { insertClub } from '../fixtures.js';
import type { RunContext, Scenario, Summary } from '../scenario.js';

// How fast the server says no when the database cannot serve it: a saturated pool, and
// PostgreSQL unreachable. The fault tests assert what the answers are; the times are here.

/** Of every figure, whatever --duration says: a silent cut takes ~5 s to fail and recover, so the run takes about a minute. */
const REPETITIONS = 5;
const NAME = 'fail-fast';

export const failFast: Scenario = {
  name: NAME,

  async prepare({ db, tag }) {
    const club = await insertClub(db, `${tag}-fail-fast-club`, 'Bench fail-fast club');
    const [night] = await db
      .insert(nights)
      .values({ clubId: club.id, startsAt: sql`now() + interval '1 day'`, endsAt: sql`now() + interval '1 day 6 hours'` })
      .returning();
    return {
      kind: 'run',
      run: (ctx) => run(ctx, { db, nightId: night!.id }),
      async remove() {
        await db.delete(clubs).where(eq(clubs.id, club.id));
      },
    };
  },
};

async function run(ctx: RunContext, target: Target): Promise<Summary> {
  const figures = new Figures();
  // Both parts start servers of their own configuration (one behind a proxy): a running
  // server given with --url can be neither.
  if (!(await measureSaturatedPool(ctx, target, figures, REPETITIONS))) {
    return { lines: [`${NAME}  skipped: it needs servers the bench starts, not --url`], fields: { skipped: true } };
  }
  await measureUnreachable(ctx, target.nightId, figures, REPETITIONS);
  return summarize(figures);
}

function summarize(figures: Figures): Summary {
  const f = (name: string) => figures.format(name);
  const lines = [
    `${NAME}  saturated pool (DB_POOL_MAX=2, DB_POOL_WAIT_TIMEOUT_MS=${POOL_WAIT_TIMEOUT_MS}, both connections waiting on a lock)`,
    `${NAME}    /healthz 200: ${f('saturated.healthz')}`,
    `${NAME}    /readyz 200: ${f('saturated.readyz')}`,
    `${NAME}    a further read fails with DATABASE_BUSY: ${f('saturated.busy')}`,
    `${NAME}  PostgreSQL refusing (proxy reset)`,
    `${NAME}    first read fails with DATABASE_UNAVAILABLE: ${f('refused.first')}`,
    `${NAME}    reads once known down: ${f('refused.knownDown')}`,
    `${NAME}    /readyz 503 while down: ${f('refused.readyz')}`,
    `${NAME}    restore → /readyz 200: ${f('refused.recovery')}`,
    `${NAME}  PostgreSQL silent (proxy drops everything; DB_STATEMENT_TIMEOUT_MS=${STATEMENT_TIMEOUT_MS})`,
    `${NAME}    first read fails with DATABASE_UNAVAILABLE: ${f('silent.first')}`,
    `${NAME}    restore → /readyz 200: ${f('silent.recovery')}`,
    figures.failures.length === 0
      ? `${NAME}  every answer as expected`
      : `${NAME}  ${figures.failures.length} UNEXPECTED ANSWER(S):`,
    ...figures.failures.map((failure) => `${NAME}    ${failure}`),
  ];
  return {
    lines,
    fields: {
      repetitions: REPETITIONS,
      poolWaitTimeoutMs: POOL_WAIT_TIMEOUT_MS,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      figures: figures.fields(),
      failures: figures.failures,
    },
  };
}
