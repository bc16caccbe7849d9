import { sql } from 'drizzle-orm';
import {
  check,
  foreignKey,
  index,
  integer,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { clubs } from './clubs.js';
import { users } from './users.js';

export const songs = pgTable(
  'songs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clubId: uuid('club_id')
      .notNull()
      .references(() => clubs.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    artist: text('artist').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('songs_club_title_artist_key').on(t.clubId, t.title, t.artist),
    // Serves Club.songs: a club's catalogue by case-folded title, then id (its keyset).
    index('songs_club_title_order_idx').on(t.clubId, sql`lower(${t.title}) collate "C"`, t.id),
  ],
);

export const voteSessionStatuses = ['active', 'ended'] as const;
export type VoteSessionStatus = (typeof voteSessionStatuses)[number];

export const voteSessions = pgTable(
  'vote_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clubId: uuid('club_id')
      .notNull()
      .references(() => clubs.id, { onDelete: 'cascade' }),
    status: text('status', { enum: voteSessionStatuses }).notNull().default('active'),
    startedBy: uuid('started_by').references(() => users.id),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    check('vote_sessions_status_valid', sql`${t.status} in ('active', 'ended')`),
    check(
      'vote_sessions_ended_has_time',
      sql`(${t.status} = 'ended') = (${t.endedAt} is not null)`,
    ),
    // The invariant: at most one active session per club.
    uniqueIndex('vote_sessions_active_club_key')
      .on(t.clubId)
      .where(sql`${t.status} = 'active'`),
    index('vote_sessions_club_started_idx').on(t.clubId, t.startedAt),
  ],
);

/** The songs a vote session offers, in the order the DJ listed them. */
export const voteSessionSongs = pgTable(
  'vote_session_songs',
  {
    sessionId: uuid('session_id')
      .notNull()
      .references(() => voteSessions.id, { onDelete: 'cascade' }),
    songId: uuid('song_id')
      .notNull()
      .references(() => songs.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.songId] })],
);

export const votes = pgTable(
  'votes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id').notNull(),
    songId: uuid('song_id').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    castAt: timestamp('cast_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    // A vote can only name a song of its own session.
    foreignKey({
      name: 'votes_session_song_fk',
      columns: [t.sessionId, t.songId],
      foreignColumns: [voteSessionSongs.sessionId, voteSessionSongs.songId],
    }).onDelete('cascade'),
    // The invariant: one vote per user per session.
    uniqueIndex('votes_session_user_key').on(t.sessionId, t.userId),
    // Serves the results GROUP BY as an index-only scan.
    index('votes_session_song_idx').on(t.sessionId, t.songId),
  ],
);

/**
 * Versions of vote results: every change of a session's votes claims the next value after
 * it commits. A sequence never goes back, whatever happens to the caches.
 */
export const voteResultsVersion = pgSequence('vote_results_version');

export type Song = typeof songs.$inferSelect;
export type VoteSession = typeof voteSessions.$inferSelect;
export type Vote = typeof votes.$inferSelect;
