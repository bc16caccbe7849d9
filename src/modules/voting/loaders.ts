import { and, asc, eq, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { songs, voteSessionSongs, voteSessions } from '../../db/schema.js';
import { listLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';
import type { VoteResultsSnapshot, VoteResultsStore } from './results-store.js';

const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');
  return {
    songsById: db.select().from(songs).where(anyId(songs.id, ids)).prepare('songs_by_id'),
    voteSessionsById: db.select().from(voteSessions).where(anyId(voteSessions.id, ids)).prepare('vote_sessions_by_id'),
    activeVoteSessions: db
      .select()
      .from(voteSessions)
      .where(and(anyId(voteSessions.clubId, ids), eq(voteSessions.status, 'active')))
      .prepare('active_vote_sessions'),
    songsOfSessions: db
      .select({ sessionId: voteSessionSongs.sessionId, song: songs })
      .from(voteSessionSongs)
      .innerJoin(songs, eq(songs.id, voteSessionSongs.songId))
      .where(anyId(voteSessionSongs.sessionId, ids))
      .orderBy(voteSessionSongs.sessionId, asc(voteSessionSongs.position))
      .prepare('songs_of_sessions'),
  };
});

export function createVotingLoaders(db: Database, options: BatchOptions, voteResults: VoteResultsStore) {
  const q = queries(db);
  const songById = rowLoader((ids) => q.songsById.execute({ ids }), (s) => s.id, options);
  const voteSessionById = rowLoader((ids) => q.voteSessionsById.execute({ ids }), (s) => s.id, options);
  const activeVoteSessionByClub = rowLoader((ids) => q.activeVoteSessions.execute({ ids }), (s) => s.clubId, options);

  const songsBySession = listLoader(
    async (ids) => {
      const rows = await q.songsOfSessions.execute({ ids });
      for (const row of rows) songById.prime(row.song.id, row.song);
      return rows;
    },
    (row) => row.sessionId,
    options,
  );

  /** Results from the shared cache; the sessions missing there cost one GROUP BY together. */
  const voteResultsBySession = rowLoader(
    async (ids) => (await voteResults.load(ids)).filter((s): s is VoteResultsSnapshot => s !== null),
    (snapshot) => snapshot.sessionId,
    options,
  );

  return { songById, voteSessionById, activeVoteSessionByClub, songsBySession, voteResultsBySession };
}
