import { inArray } from 'drizzle-orm';
import { users, wishlistItems } from '../../db/schema.js';
import { AppError, ErrorCode } from '../../errors.js';
import type { Principal, Viewer } from '../../platform/auth.js';
import { holdTable, confirmBooking } from '../bookings/service.js';
import { createClub } from '../clubs/setup.js';
import { createTable } from '../clubs/floor-plan.js';
import { scheduleNight } from '../clubs/nights.js';
import { listClubs } from '../clubs/service.js';
import type { Scope } from '../scope.js';
import { openTableSession, recordDeposit } from '../sessions/service.js';
import { addStaff } from '../staff/service.js';
import { addStreamer, trackStreamer } from '../streamers/service.js';
import { castVote, createSong, startVoteSession } from '../voting/service.js';

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

const principal = (subject: string, roles: Principal['roles']): Viewer => ({ kind: 'user', principal: { subject, roles, clubIds: [] } });

/**
 * Sets up the demo through the same services the API calls, as each demo user would:
 * the admin creates the clubs; the manager (staff kept in PostgreSQL, so the demo tokens
 * carry no clubs) places tables, schedules nights, adds songs and starts a vote; the
 * guest holds and confirms tables and votes; the host seats a table and takes deposits.
 * Does nothing if any club exists. The first night of each club starts now.
 */
export async function seedDemoData(scopeFor: (viewer: Viewer) => Scope, now = new Date()): Promise<{ seeded: boolean }> {
  const admin = scopeFor(principal(demoSubjects.admin, ['admin']));
  if ((await listClubs(admin, { first: 1, after: null })).edges.length > 0) return { seeded: false };
  const manager = () => scopeFor(principal(demoSubjects.manager, ['manager']));
  const host = () => scopeFor(principal(demoSubjects.host, ['host']));
  const guest = () => scopeFor(principal(demoSubjects.guest, ['guest']));

  // Display names are the users' own to set; the demo users get theirs here.
  for (const subject of Object.values(demoSubjects)) await scopeFor(principal(subject, ['guest'])).currentUser();
  for (const subject of Object.values(demoSubjects)) {
    await admin.db.update(users).set({ displayName: subject.replace('demo-', 'Demo ') }).where(inArray(users.subject, [subject]));
  }

  // A second after now: nights may not be scheduled in the past.
  const tonight = new Date(Math.ceil((now.getTime() + 1_000) / 60_000) * 60_000);
  for (const [clubIndex, demo] of demoClubs.entries()) {
    let club;
    try {
      club = await createClub(admin, { slug: demo.slug, name: demo.name, timezone: demo.timezone, currency: demo.currency });
    } catch (error) {
      // Another instance starting at the same time is seeding: the demo is loaded once.
      if (clubIndex === 0 && error instanceof AppError && error.code === ErrorCode.CONFLICT) return { seeded: false };
      throw error;
    }
    await addStaff(admin, { clubId: club.id, subject: demoSubjects.manager, role: 'manager' });
    if (clubIndex === 0) await addStaff(manager(), { clubId: club.id, subject: demoSubjects.host, role: 'host' });
    let y = 1;
    const tables = [];
    for (const zone of demo.zones) {
      let number = 0;
      for (let row = 0; row < zone.rows; row += 1, y += 3) {
        for (let col = 0; col < zone.cols; col += 1) {
          number += 1;
          tables.push(
            await createTable(manager(), {
              clubId: club.id,
              label: `${zone.name[0]}${number}`,
              capacity: zone.capacity,
              minDepositMinor: zone.minDeposit,
              zone: zone.name,
              x: 1 + col * 4,
              y,
              width: 3,
              height: 2,
            }),
          );
        }
      }
      y += 1;
    }
    const nights = [];
    for (const days of [0, 1, 7, 8]) {
      const startsAt = new Date(tonight.getTime() + days * 24 * HOUR);
      nights.push(await scheduleNight(manager(), { clubId: club.id, startsAt, endsAt: new Date(startsAt.getTime() + 7 * HOUR) }));
    }
    const songs = [];
    for (const [title, artist] of demo.songs) songs.push(await createSong(manager(), { clubId: club.id, title, artist }));
    const session = await startVoteSession(manager(), { clubId: club.id, songIds: songs.map((s) => s.id) });
    for (const [i, subject] of Object.values(demoSubjects).entries()) {
      await castVote(scopeFor(principal(subject, ['guest'])), { sessionId: session.id, songId: songs[i % songs.length]!.id });
    }

    if (clubIndex === 0) {
      // Tonight at the first club: one table seated with deposits, one confirmed, one held.
      const night = nights[0]!;
      const booked = [];
      for (const [i, partySize] of [6, 4, 2].entries()) {
        booked.push(await holdTable(guest(), { nightId: night.id, tableId: tables[i]!.id, partySize, idempotencyKey: `demo-${i + 1}` }));
      }
      await confirmBooking(guest(), booked[0]!.id);
      await confirmBooking(guest(), booked[1]!.id);
      const seated = await openTableSession(host(), { nightId: night.id, tableId: tables[0]!.id, bookingId: booked[0]!.id });
      await recordDeposit(host(), { sessionId: seated.id, amountMinor: 30_000, currency: demo.currency, idempotencyKey: 'demo-d1' });
      await recordDeposit(host(), { sessionId: seated.id, amountMinor: 25_000, currency: demo.currency, idempotencyKey: 'demo-d2' });
    }
  }

  const streamers = [];
  for (const { platform, handle, displayName } of demoStreamers) streamers.push(await addStreamer(admin, { platform, handle, displayName }));
  // Wishlist items arrive from the streamers' sources by sync; the demo has none to sync from.
  const items = streamers.flatMap((streamer, s) =>
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
  if (items.length > 0) await admin.db.insert(wishlistItems).values(items);
  for (const streamer of streamers.slice(0, 4).reverse()) await trackStreamer(guest(), streamer.id);
  return { seeded: true };
}
