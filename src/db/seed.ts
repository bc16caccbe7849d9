import { asc, eq } from 'drizzle-orm';
import type { Database } from './client.js';
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
} from './schema.js';

/** Subjects of the demo users; the start-up banner prints a token for each. */
export const demoSubjects = {
  guest: 'demo-guest',
  host: 'demo-host',
  manager: 'demo-manager',
  admin: 'demo-admin',
} as const;

const HOUR = 3_600_000;

interface DemoClub {
  slug: string;
  name: string;
  timezone: string;
  currency: string;
  zones: { name: string; rows: number; cols: number; capacity: number; minDeposit: number }[];
  songs: [string, string][];
}

const demoClubs: DemoClub[] = [
  {
    slug: 'neon-basement',
    name: 'Neon Basement',
    timezone: 'Europe/Berlin',
    currency: 'EUR',
    zones: [
      { name: 'VIP', rows: 1, cols: 4, capacity: 8, minDeposit: 50_000 },
      { name: 'Floor', rows: 2, cols: 5, capacity: 4, minDeposit: 15_000 },
    ],
    songs: [
      ['Strobe', 'deadmau5'],
      ['Windowlicker', 'Aphex Twin'],
      ['Blue Monday', 'New Order'],
      ['Da Funk', 'Daft Punk'],
      ['Born Slippy', 'Underworld'],
      ['Xtal', 'Aphex Twin'],
    ],
  },
  {
    slug: 'seoul-rooftop',
    name: 'Seoul Rooftop',
    timezone: 'Asia/Seoul',
    currency: 'KRW',
    zones: [
      { name: 'Terrace', rows: 2, cols: 3, capacity: 6, minDeposit: 300_000 },
      { name: 'Bar', rows: 1, cols: 4, capacity: 2, minDeposit: 100_000 },
    ],
    songs: [
      ['Hype Boy', 'NewJeans'],
      ['Gangnam Style', 'PSY'],
      ['Fantastic Baby', 'BIGBANG'],
      ['Ditto', 'NewJeans'],
    ],
  },
  {
    slug: 'vault-moscow',
    name: 'Vault',
    timezone: 'Europe/Moscow',
    currency: 'RUB',
    zones: [{ name: 'Hall', rows: 3, cols: 4, capacity: 6, minDeposit: 2_000_000 }],
    songs: [
      ['Kukushka', 'Kino'],
      ['Gruppa krovi', 'Kino'],
      ['Ya svobodna', 'Kipelov'],
    ],
  },
];

const demoStreamers = [
  { platform: 'twitch', handle: 'djkarina', displayName: 'DJ Karina', items: 8 },
  { platform: 'twitch', handle: 'basslinebob', displayName: 'Bassline Bob', items: 5 },
  { platform: 'youtube', handle: 'seoulsetlist', displayName: 'Seoul Setlist', items: 12 },
  { platform: 'twitch', handle: 'vinylvera', displayName: 'Vinyl Vera', items: 3 },
  { platform: 'kick', handle: 'technotim', displayName: 'Techno Tim', items: 6 },
  { platform: 'youtube', handle: 'afterhoursanya', displayName: 'Afterhours Anya', items: 0 },
];

const gear = ['Headphones', 'Turntable needle', 'Mixer', 'Ring light', 'Vinyl crate', 'Stream deck', 'Microphone', 'Fog machine'];

/**
 * Loads the demo clubs, nights, tables, songs, a running vote, streamers and wishlists
 * into an empty database, in one transaction. Does nothing if any club exists.
 * Nights are placed around `now` so that one is under way.
 */
export async function seedDemoData(db: Database, now = new Date()): Promise<{ seeded: boolean }> {
  return db.transaction(async (tx) => {
    const existing = await tx.select({ id: clubs.id }).from(clubs).orderBy(asc(clubs.id)).limit(1);
    if (existing.length > 0) return { seeded: false };

    const people = await tx
      .insert(users)
      .values(Object.values(demoSubjects).map((subject) => ({ subject, displayName: subject.replace('demo-', 'Demo ') })))
      .returning();
    const userBySubject = new Map(people.map((u) => [u.subject, u]));
    const guest = userBySubject.get(demoSubjects.guest)!;
    const host = userBySubject.get(demoSubjects.host)!;

    const tonight = new Date(Math.floor(now.getTime() / HOUR) * HOUR - 2 * HOUR);
    for (const [clubIndex, demo] of demoClubs.entries()) {
      const [club] = await tx
        .insert(clubs)
        .values({ slug: demo.slug, name: demo.name, timezone: demo.timezone, currency: demo.currency })
        .returning();
      let y = 1;
      const tableRows = [];
      for (const zone of demo.zones) {
        let number = 0;
        for (let row = 0; row < zone.rows; row += 1, y += 3) {
          for (let col = 0; col < zone.cols; col += 1) {
            number += 1;
            tableRows.push({
              clubId: club!.id,
              label: `${zone.name[0]}${number}`,
              capacity: zone.capacity,
              minDepositMinor: zone.minDeposit,
              zone: zone.name,
              x: 1 + col * 4,
              y,
              width: 3,
              height: 2,
            });
          }
        }
        y += 1;
      }
      const clubTables = await tx.insert(tables).values(tableRows).returning();
      const clubNights = await tx
        .insert(nights)
        .values(
          [0, 1, 7, 8].map((days) => ({
            clubId: club!.id,
            startsAt: new Date(tonight.getTime() + days * 24 * HOUR),
            endsAt: new Date(tonight.getTime() + days * 24 * HOUR + 7 * HOUR),
          })),
        )
        .returning();

      const clubSongs = await tx
        .insert(songs)
        .values(demo.songs.map(([title, artist]) => ({ clubId: club!.id, title, artist })))
        .returning();
      const [session] = await tx.insert(voteSessions).values({ clubId: club!.id, startedAt: now }).returning();
      await tx
        .insert(voteSessionSongs)
        .values(clubSongs.map((song, position) => ({ sessionId: session!.id, songId: song.id, position })));
      await tx.insert(votes).values(
        people.map((person, i) => ({ sessionId: session!.id, songId: clubSongs[i % clubSongs.length]!.id, userId: person.id })),
      );

      if (clubIndex === 0) {
        // Tonight at the first club: one table seated with deposits, one confirmed, one held.
        const night = clubNights[0]!;
        const [seatedBooking] = await tx
          .insert(bookings)
          .values([
            { nightId: night.id, tableId: clubTables[0]!.id, userId: guest.id, partySize: 6, status: 'confirmed', idempotencyKey: 'demo-1', requestHash: 'demo' },
            { nightId: night.id, tableId: clubTables[1]!.id, userId: guest.id, partySize: 4, status: 'confirmed', idempotencyKey: 'demo-2', requestHash: 'demo' },
            { nightId: night.id, tableId: clubTables[2]!.id, userId: guest.id, partySize: 2, status: 'held', holdExpiresAt: new Date(now.getTime() + HOUR), idempotencyKey: 'demo-3', requestHash: 'demo' },
          ])
          .returning();
        const [session] = await tx
          .insert(tableSessions)
          .values({ nightId: night.id, tableId: clubTables[0]!.id, bookingId: seatedBooking!.id, openedBy: host.id, openedAt: now })
          .returning();
        await tx.insert(deposits).values([
          { sessionId: session!.id, amountMinor: 30_000, currency: demo.currency, recordedBy: host.id, recordedAt: now, idempotencyKey: 'demo-d1', requestHash: 'demo' },
          { sessionId: session!.id, amountMinor: 25_000, currency: demo.currency, recordedBy: host.id, recordedAt: new Date(now.getTime() + 1000), idempotencyKey: 'demo-d2', requestHash: 'demo' },
        ]);
        await tx.update(nights).set({ availabilityVersion: 4 }).where(eq(nights.id, night.id));
      }
    }

    const streamerRows = await tx
      .insert(streamers)
      .values(demoStreamers.map(({ platform, handle, displayName }) => ({ platform, handle, displayName })))
      .returning();
    const items = streamerRows.flatMap((streamer, s) =>
      Array.from({ length: demoStreamers[s]!.items }, (_, i) => ({
        streamerId: streamer.id,
        externalId: `${streamer.handle}-${i + 1}`,
        title: `${gear[(s + i) % gear.length]} #${i + 1}`,
        priceMinor: 1_999 + 1_000 * ((s * 7 + i * 3) % 20),
        currency: 'EUR',
        url: `https://wishlist.example/${streamer.handle}/${i + 1}`,
        firstSeenAt: new Date(now.getTime() - (i + 1) * HOUR),
      })),
    );
    if (items.length > 0) await tx.insert(wishlistItems).values(items);
    await tx.insert(userStreamers).values(
      streamerRows.slice(0, 4).map((streamer, i) => ({
        userId: guest.id,
        streamerId: streamer.id,
        trackedAt: new Date(now.getTime() - i * 24 * HOUR),
      })),
    );
    return { seeded: true };
  });
}
