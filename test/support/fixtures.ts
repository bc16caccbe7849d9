import { randomUUID } from 'node:crypto';
import type { Database } from '../../src/db/client.js';
import {
  bookings,
  clubs,
  deposits,
  nights,
  songs,
  streamers,
  tableSessions,
  tables,
  userStreamers,
  users,
  voteSessionSongs,
  voteSessions,
  votes,
  wishlistItems,
  type Booking,
} from '../../src/db/schema.js';

const HOUR = 3_600_000;
let sequence = 0;
const unique = (prefix: string) => `${prefix}-${(sequence += 1)}-${randomUUID().slice(0, 8)}`;

/** Rows written straight through Drizzle, so tests can set up any state in one step. */
export function fixtures(db: Database) {
  return {
    async user(subject = unique('user')) {
      const [row] = await db.insert(users).values({ subject }).returning();
      return row!;
    },

    async club(values: Partial<typeof clubs.$inferInsert> = {}) {
      const slug = values.slug ?? unique('club').toLowerCase();
      const [row] = await db.insert(clubs).values({ name: slug, timezone: 'Europe/Berlin', ...values, slug }).returning();
      return row!;
    },

    async tables(clubId: string, count: number, values: Partial<typeof tables.$inferInsert> = {}) {
      return db
        .insert(tables)
        .values(
          Array.from({ length: count }, (_, i) => ({
            clubId,
            label: `T${i + 1}`,
            capacity: 4,
            minDepositMinor: 10_000,
            x: (i % 10) * 4,
            y: Math.floor(i / 10) * 3,
            width: 3,
            height: 2,
            ...values,
          })),
        )
        .returning();
    },

    async nights(clubId: string, count: number, from = new Date(Date.now() + HOUR)) {
      return db
        .insert(nights)
        .values(
          Array.from({ length: count }, (_, i) => ({
            clubId,
            startsAt: new Date(from.getTime() + i * 24 * HOUR),
            endsAt: new Date(from.getTime() + i * 24 * HOUR + 6 * HOUR),
          })),
        )
        .returning();
    },

    /** A new club with `tables` tables and one night: what a live floor plan needs. */
    async nightWithTables(tables: number) {
      const club = await this.club();
      const rows = await this.tables(club.id, tables);
      const [night] = await this.nights(club.id, 1);
      return { clubId: club.id, nightId: night!.id, tableIds: rows.map((t) => t.id) };
    },

    async booking(values: Pick<Booking, 'nightId' | 'tableId' | 'userId'> & Partial<typeof bookings.$inferInsert>) {
      const [row] = await db
        .insert(bookings)
        .values({
          partySize: 2,
          status: 'confirmed',
          idempotencyKey: unique('key'),
          requestHash: 'fixture',
          ...values,
        })
        .returning();
      return row!;
    },

    async tableSession(values: typeof tableSessions.$inferInsert) {
      const [row] = await db.insert(tableSessions).values(values).returning();
      return row!;
    },

    async deposits(sessionId: string, recordedBy: string, amounts: number[], currency = 'EUR') {
      const start = Date.now();
      return db
        .insert(deposits)
        .values(
          amounts.map((amountMinor, i) => ({
            sessionId,
            amountMinor,
            currency,
            recordedBy,
            recordedAt: new Date(start + i * 1000),
            idempotencyKey: unique('deposit'),
            requestHash: 'fixture',
          })),
        )
        .returning();
    },

    async streamers(count: number, values: (i: number) => Partial<typeof streamers.$inferInsert> = () => ({})) {
      return db
        .insert(streamers)
        .values(
          Array.from({ length: count }, (_, i) => {
            const handle = unique('streamer');
            return { platform: 'twitch', handle, displayName: `Streamer ${i + 1}`, ...values(i) };
          }),
        )
        .returning();
    },

    /** `count` items per streamer, item i first seen i hours ago (item 0 is the newest). */
    async wishlistItems(streamerIds: string[], count: number, now = Date.now()) {
      const values = streamerIds.flatMap((streamerId) =>
        Array.from({ length: count }, (_, i) => ({
          streamerId,
          externalId: `item-${i}`,
          title: `Item ${i}`,
          priceMinor: 1_000 + i,
          currency: 'EUR',
          firstSeenAt: new Date(now - i * HOUR),
        })),
      );
      return values.length > 0 ? db.insert(wishlistItems).values(values).returning() : [];
    },

    /** Tracks in the given order; the first is the most recently tracked. */
    async track(userId: string, streamerIds: string[], now = Date.now()) {
      if (streamerIds.length === 0) return;
      await db
        .insert(userStreamers)
        .values(streamerIds.map((streamerId, i) => ({ userId, streamerId, trackedAt: new Date(now - i * 60_000) })));
    },

    async songs(clubId: string, titles: string[]) {
      return db
        .insert(songs)
        .values(titles.map((title) => ({ clubId, title, artist: `Artist of ${title}` })))
        .returning();
    },

    async voteSession(clubId: string, songIds: string[]) {
      const [session] = await db.insert(voteSessions).values({ clubId }).returning();
      await db
        .insert(voteSessionSongs)
        .values(songIds.map((songId, position) => ({ sessionId: session!.id, songId, position })));
      return session!;
    },

    /** Casts `count` votes for the song, each from a new user. */
    async votes(sessionId: string, songId: string, count: number) {
      if (count === 0) return;
      const voters = await db
        .insert(users)
        .values(Array.from({ length: count }, () => ({ subject: unique('voter') })))
        .returning();
      await db.insert(votes).values(voters.map((voter) => ({ sessionId, songId, userId: voter.id })));
    },
  };
}

export type Fixtures = ReturnType<typeof fixtures>;
