import { sql } from 'drizzle-orm';
import { bigint, check, doublePrecision, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { songs } from './voting.js';
import { users } from './users.js';

/**
 * A song's audio file: where its bytes are in media storage and what they were found to
 * be while they streamed in. One row per song; a replacement rewrites the row in the same
 * transaction that completes its upload, and the old object is deleted after the commit.
 */
export const songAudio = pgTable(
  'song_audio',
  {
    songId: uuid('song_id')
      .primaryKey()
      .references(() => songs.id, { onDelete: 'cascade' }),
    /** The object's key in media storage: `songs/<songId>/<uploadId>`, new for every upload. */
    storageKey: text('storage_key').notNull(),
    /** Sniffed from the file's own bytes, not taken from the uploader. */
    contentType: text('content_type').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    durationSeconds: doublePrecision('duration_seconds'),
    /** Hex; also the playback ETag. */
    sha256: text('sha256').notNull(),
    uploadedAt: timestamp('uploaded_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [check('song_audio_bytes_positive', sql`${t.bytes} > 0`)],
);

/**
 * Upload tickets: what `requestSongUpload` promised (the song, the size) until when. The
 * first PUT claims the row (`claimed_at`), so a ticket carries one upload at most, on any
 * instance; `completed_at` is set in the transaction that attaches the file.
 */
export const songUploads = pgTable(
  'song_uploads',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    songId: uuid('song_id')
      .notNull()
      .references(() => songs.id, { onDelete: 'cascade' }),
    requestedBy: uuid('requested_by').references(() => users.id),
    /** What the manager said the file is; the stored type is the one sniffed from its bytes. */
    declaredType: text('declared_type').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    claimedAt: timestamp('claimed_at', { withTimezone: true, precision: 3 }),
    completedAt: timestamp('completed_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('song_uploads_song_idx').on(t.songId)],
);

export type SongAudio = typeof songAudio.$inferSelect;
export type SongUpload = typeof songUploads.$inferSelect;
