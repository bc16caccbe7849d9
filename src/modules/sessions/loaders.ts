import { asc, desc, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { deposits, tableSessions, type Deposit } from '../../db/schema.js';
import { listLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';

/** A session's most recent deposit and the sum of all of them. */
export interface DepositSummary {
  sessionId: string;
  latest: Deposit;
  totalMinor: number;
}

const queries = preparedPerDatabase((db) => ({
  sessionsById: db.select().from(tableSessions).where(anyId(tableSessions.id, sql.placeholder('ids'))).prepare('table_sessions_by_id'),
  depositsOfSessions: db
    .select()
    .from(deposits)
    .where(anyId(deposits.sessionId, sql.placeholder('ids')))
    .orderBy(deposits.sessionId, asc(deposits.recordedAt), asc(deposits.id))
    .prepare('deposits_of_sessions'),
  /**
   * One statement for any number of sessions: DISTINCT ON keeps each session's newest
   * deposit (index on session, recorded_at desc, id desc); a window sums them all.
   */
  depositSummaries: db
    .selectDistinctOn([deposits.sessionId], {
      latest: deposits,
      totalMinor: sql<string>`sum(${deposits.amountMinor}) over (partition by ${deposits.sessionId})`,
    })
    .from(deposits)
    .where(anyId(deposits.sessionId, sql.placeholder('ids')))
    .orderBy(deposits.sessionId, desc(deposits.recordedAt), desc(deposits.id))
    .prepare('deposit_summaries'),
}));

export function createSessionLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  return {
    tableSessionById: rowLoader((ids) => q.sessionsById.execute({ ids }), (s) => s.id, options),
    depositsBySession: listLoader((ids) => q.depositsOfSessions.execute({ ids }), (d) => d.sessionId, options),
    depositSummaryBySession: rowLoader(
      async (ids): Promise<DepositSummary[]> => {
        const rows = await q.depositSummaries.execute({ ids });
        return rows.map((r) => ({ sessionId: r.latest.sessionId, latest: r.latest, totalMinor: Number(r.totalMinor) }));
      },
      (summary) => summary.sessionId,
      options,
    ),
  };
}
