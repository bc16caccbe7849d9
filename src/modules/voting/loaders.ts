import { and, asc, count, eq, inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { songs, voteSessionSongs, voteSessions, votes } from '../../db/schema.js';
import { listLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';

export function createVotingLoaders(db: Database, options: BatchOptions) {
  const songById = rowLoader((ids) => db.select().from(songs).where(inArray(songs.id, ids)), (s) => s.id, options);

  const voteSessionById = rowLoader(
    (ids) => db.select().from(voteSessions).where(inArray(voteSessions.id, ids)),
    (s) => s.id,
    options,
  );

  const activeVoteSessionByClub = rowLoader(
    (clubIds) =>
      db
        .select()
        .from(voteSessions)
        .where(and(inArray(voteSessions.clubId, clubIds), eq(voteSessions.status, 'active'))),
    (s) => s.clubId,
    options,
  );

  const songsBySession = listLoader(
    async (sessionIds) => {
      const rows = await db
        .select({ sessionId: voteSessionSongs.sessionId, song: songs })
        .from(voteSessionSongs)
        .innerJoin(songs, eq(songs.id, voteSessionSongs.songId))
        .where(inArray(voteSessionSongs.sessionId, sessionIds))
        .orderBy(voteSessionSongs.sessionId, asc(voteSessionSongs.position));
      for (const row of rows) songById.prime(row.song.id, row.song);
      return rows;
    },
    (row) => row.sessionId,
    options,
  );

  /**
   * Vote counts for every song of each session, zero-vote songs included: one GROUP BY
   * over the votes index on (session, song). The song rows ride along and prime `songById`.
   */
  const voteCountsBySession = listLoader(
    async (sessionIds) => {
      const rows = await db
        .select({ sessionId: voteSessionSongs.sessionId, song: songs, votes: count(votes.id) })
        .from(voteSessionSongs)
        .innerJoin(songs, eq(songs.id, voteSessionSongs.songId))
        .leftJoin(
          votes,
          and(eq(votes.sessionId, voteSessionSongs.sessionId), eq(votes.songId, voteSessionSongs.songId)),
        )
        .where(inArray(voteSessionSongs.sessionId, sessionIds))
        .groupBy(voteSessionSongs.sessionId, songs.id);
      for (const row of rows) songById.prime(row.song.id, row.song);
      return rows;
    },
    (row) => row.sessionId,
    options,
  );

  return { songById, voteSessionById, activeVoteSessionByClub, songsBySession, voteCountsBySession };
}
