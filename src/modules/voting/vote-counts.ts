import { and, count, eq, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { songs, voteSessionSongs, votes } from '../../db/schema.js';

/**
 * Vote counts for every song of each session, zero-vote songs included: the votes are
 * counted per (session, song) straight off the votes index (an index-only scan), then
 * joined to the sessions' song lists. The song rows ride along.
 */
const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');
  const counted = db
    .select({ sessionId: votes.sessionId, songId: votes.songId, votes: count().as('votes') })
    .from(votes)
    .where(anyId(votes.sessionId, ids))
    .groupBy(votes.sessionId, votes.songId)
    .as('counted');
  return {
    voteCounts: db
      .select({ sessionId: voteSessionSongs.sessionId, song: songs, votes: sql<number>`coalesce(${counted.votes}, 0)::int` })
      .from(voteSessionSongs)
      .innerJoin(songs, eq(songs.id, voteSessionSongs.songId))
      .leftJoin(counted, and(eq(counted.sessionId, voteSessionSongs.sessionId), eq(counted.songId, voteSessionSongs.songId)))
      .where(anyId(voteSessionSongs.sessionId, ids))
      .prepare('vote_counts'),
  };
});

/** Vote counts for every song of the sessions, one GROUP BY (see `queries`). */
export function selectVoteCounts(db: Database, sessionIds: readonly string[]) {
  return queries(db).voteCounts.execute({ ids: sessionIds });
}
