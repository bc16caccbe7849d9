import { desc, inArray, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deposits, type Deposit } from '../../db/schema.js';
import { rowLoader, type BatchOptions } from '../../graphql/batch.js';

/** A session's most recent deposit and the sum of all of them. */
export interface DepositSummary {
  sessionId: string;
  latest: Deposit;
  totalMinor: number;
}

export function createSessionLoaders(db: Database, options: BatchOptions) {
  return {
    /**
     * One statement for any number of sessions: DISTINCT ON keeps each session's newest
     * deposit (index on session, recorded_at desc, id desc); a window sums them all.
     */
    depositSummaryBySession: rowLoader(
      async (sessionIds): Promise<DepositSummary[]> => {
        const rows = await db
          .selectDistinctOn([deposits.sessionId], {
            latest: deposits,
            totalMinor: sql<string>`sum(${deposits.amountMinor}) over (partition by ${deposits.sessionId})`,
          })
          .from(deposits)
          .where(inArray(deposits.sessionId, sessionIds))
          .orderBy(deposits.sessionId, desc(deposits.recordedAt), desc(deposits.id));
        return rows.map((r) => ({ sessionId: r.latest.sessionId, latest: r.latest, totalMinor: Number(r.totalMinor) }));
      },
      (summary) => summary.sessionId,
      options,
    ),
  };
}
