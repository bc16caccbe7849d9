import { and, eq, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { songAudio, voteSessionSongs, voteSessions } from '../../db/schema.js';
import { rowLoader, type BatchOptions } from '../../graphql/batch.js';

const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');
  return {
    audioBySongs: db.select().from(songAudio).where(anyId(songAudio.songId, ids)).prepare('song_audio_by_song'),
    onOffer: db
      .selectDistinct({ songId: voteSessionSongs.songId })
      .from(voteSessionSongs)
      .innerJoin(voteSessions, and(eq(voteSessions.id, voteSessionSongs.sessionId), eq(voteSessions.status, 'active')))
      .where(anyId(voteSessionSongs.songId, ids))
      .prepare('songs_on_offer'),
  };
});

export function createMusicLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  return {
    /** A song's audio row, null for a song without audio. */
    audioBySong: rowLoader((ids) => q.audioBySongs.execute({ ids }), (a) => a.songId, options),
    /** `{ songId }` for a song on offer in its club's active vote session, null otherwise. */
    onOfferBySong: rowLoader((ids) => q.onOffer.execute({ ids }), (row) => row.songId, options),
  };
}
