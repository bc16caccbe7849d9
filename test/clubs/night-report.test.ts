import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaigns, checkIns, guestEntries, nightReports, nights, outbox, tableSessions, tables, voteSessionSongs, voteSessions } from '../../src/db/schema.js';
import { writeFinalReports } from '../../src/modules/reports/final.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { realServers, startTestApp, type TestApp } from '../support/app.js';

const REPORT = `query($id: ID!) { night(id: $id) { report {
  version final computedAt
  bookings { held confirmed cancelled expired total }
  peakOccupancy noShows
  deposits { total { amountMinor currency } byZone { zone total { amountMinor currency } } }
  checkIns { total byGate { gate count } byQuarterHour { startsAt count } }
  voting { sessions votes voters topSongs { song { title } votes } }
  campaigns { messages delivered }
} } }`;
const MIN = 60_000;

/** A night of a club with a hand-counted history; returns it with what its report must say. */
async function busyNight(app: TestApp, fx: Fixtures, startsAt: Date) {
  const club = await fx.club({ currency: 'EUR' });
  const [night] = await fx.nights(club.id, 1, startsAt);
  const [t1, t2, t3, t4, t5] = await Promise.all([
    fx.tables(club.id, 1, { label: 'T1', zone: 'VIP', x: 0 }),
    fx.tables(club.id, 1, { label: 'T2', zone: 'VIP', x: 3 }),
    fx.tables(club.id, 1, { label: 'T3', zone: 'Bar', x: 6 }),
    fx.tables(club.id, 1, { label: 'T4', x: 9 }),
    fx.tables(club.id, 1, { label: 'T5', x: 12 }),
  ]).then((rows) => rows.map((r) => r[0]!));
  const host = await fx.user();
  const guest = () => fx.user();
  const b1 = await fx.booking({ nightId: night!.id, tableId: t1!.id, userId: (await guest()).id, status: 'confirmed' });
  await fx.booking({ nightId: night!.id, tableId: t2!.id, userId: (await guest()).id, status: 'confirmed' });
  await fx.booking({ nightId: night!.id, tableId: t3!.id, userId: (await guest()).id, status: 'held', holdExpiresAt: new Date(Date.now() + 3_600_000) });
  await fx.booking({ nightId: night!.id, tableId: t4!.id, userId: (await guest()).id, status: 'cancelled' });
  await fx.booking({ nightId: night!.id, tableId: t4!.id, userId: (await guest()).id, status: 'expired', holdExpiresAt: new Date(Date.now() - 1000) });
  // Deposits past 2^31 minor units on T1 (VIP), a small one on a walk-in at T5 (no zone).
  const s1 = await fx.tableSession({ nightId: night!.id, tableId: t1!.id, bookingId: b1.id, openedBy: host.id });
  await fx.deposits(s1.id, host.id, [2_000_000_000, 1_500_000_000]);
  const s5 = await fx.tableSession({ nightId: night!.id, tableId: t5!.id, openedBy: host.id });
  await fx.deposits(s5.id, host.id, [500]);
  // The door: the booking at T1 at +5 min through gate A; three listed guests at +20 min.
  const start = night!.startsAt.getTime();
  await app.db.insert(checkIns).values({ nightId: night!.id, bookingId: b1.id, gate: 'A', checkedInBy: host.id, checkedInAt: new Date(start + 5 * MIN) });
  for (const gate of ['A', 'B', 'B']) {
    const [entry] = await app.db.insert(guestEntries).values({ nightId: night!.id, name: `Guest ${gate}`, token: crypto.randomUUID(), createdBy: host.id }).returning();
    await app.db.insert(checkIns).values({ nightId: night!.id, guestEntryId: entry!.id, gate, checkedInBy: host.id, checkedInAt: new Date(start + 20 * MIN) });
  }
  // Voting: one session during the night (6 votes by 6 people), one the day before (not counted).
  const songs = await fx.songs(club.id, ['Xanadu', 'Yesterday', 'Zombie']);
  const before = await fx.voteSession(club.id, songs.map((s) => s.id));
  await app.db.update(voteSessions).set({ startedAt: new Date(start - 24 * 60 * MIN), status: 'ended', endedAt: new Date(start - 23 * 60 * MIN) }).where(eq(voteSessions.id, before.id));
  await fx.votes(before.id, songs[2]!.id, 4);
  const during = await fx.voteSession(club.id, songs.map((s) => s.id));
  await app.db.update(voteSessions).set({ startedAt: new Date(start + 30 * MIN) }).where(eq(voteSessions.id, during.id));
  await fx.votes(during.id, songs[0]!.id, 3);
  await fx.votes(during.id, songs[1]!.id, 2);
  await fx.votes(during.id, songs[2]!.id, 1);
  // Campaigns: one two days before the night's end (3 messages, 2 delivered), one ten days before.
  const end = night!.endsAt.getTime();
  for (const [daysBefore, delivered, count] of [[2, 2, 3], [10, 1, 1]] as const) {
    const [campaign] = await app.db.insert(campaigns).values({ clubId: club.id, message: 'Hi', createdBy: host.id, recipients: count, createdAt: new Date(end - daysBefore * 24 * 60 * MIN) }).returning();
    await app.db.insert(outbox).values(
      Array.from({ length: count }, (_, i) => ({
        topic: 'notification',
        dedupKey: `report-${campaign!.id}-${i}`,
        payload: { kind: 'CAMPAIGN', userId: host.id, message: 'Hi' },
        campaignId: campaign!.id,
        processedAt: i < delivered ? new Date() : null,
      })),
    );
  }
  const manager = await app.token({ subject: `report-manager-${club.id}`, roles: ['manager'], clubIds: [club.id] });
  const expected = {
    final: false,
    bookings: { held: 1, confirmed: 2, cancelled: 1, expired: 1, total: 5 },
    peakOccupancy: 0.8,
    noShows: 1,
    deposits: {
      total: { amountMinor: 3_500_000_500, currency: 'EUR' },
      byZone: [{ zone: null, total: { amountMinor: 500, currency: 'EUR' } }, { zone: 'VIP', total: { amountMinor: 3_500_000_000, currency: 'EUR' } }],
    },
    checkIns: {
      total: 4,
      byGate: [{ gate: 'A', count: 2 }, { gate: 'B', count: 2 }],
      byQuarterHour: [{ startsAt: new Date(start).toISOString(), count: 1 }, { startsAt: new Date(start + 15 * MIN).toISOString(), count: 3 }],
    },
    voting: { sessions: 1, votes: 6, voters: 6, topSongs: [{ song: { title: 'Xanadu' }, votes: 3 }, { song: { title: 'Yesterday' }, votes: 2 }, { song: { title: 'Zombie' }, votes: 1 }] },
    campaigns: { messages: 3, delivered: 2 },
  };
  return { club, night: night!, manager, host, expected };
}

describe('the night report', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp({ NIGHT_REPORT_INTERVAL_SECONDS: '3600', OUTBOX_WORKERS: '0' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('counts bookings, occupancy, no-shows, deposits past 2^31, check-ins, votes and campaigns as computed by hand', async () => {
    const { night, manager, expected } = await busyNight(app, fx, new Date(Date.now() - 60 * MIN));
    const response = await graphql(app.url, REPORT, { token: manager, variables: { id: night.id } });
    expect(response.errors).toBeUndefined();
    expect(response.data.night.report).toMatchObject(expected);
  });

  it('serves a repeated read from the response cache, checking only who asks and what changed', async () => {
    const { night, manager } = await busyNight(app, fx, new Date(Date.now() - 60 * MIN));
    const read = () => graphql(app.url, REPORT, { token: manager, variables: { id: night.id } });
    const first = await read();
    const second = await read();
    expect(second.data).toEqual(first.data);
    // Computed: the night, the membership, its availability snapshot, the final report (none),
    // the club, four aggregations, the night's vote sessions and their results (kept per
    // session from then on), the top songs. Cached: nothing (the membership is kept while
    // unchanged, the report's key is in the shared store).
    expect(first.extensions!.sql!.statements).toBe(12);
    expect(second.extensions).toMatchObject({ responseCache: 'hit', sql: { statements: 0 } });
  });

  it('is never older than a check-in, deposit, vote, hold or campaign the reader saw committed', async () => {
    const { club, night, manager } = await busyNight(app, fx, new Date(Date.now() - 60 * MIN));
    const host = await app.token({ subject: `report-door-${club.id}`, roles: ['host'], clubIds: [club.id] });
    const guest = await app.token({ subject: `report-guest-${club.id}` });
    const report = async () => {
      const response = await graphql(app.url, REPORT, { token: manager, variables: { id: night.id } });
      expect(response.errors).toBeUndefined();
      return response.data.night.report;
    };
    const mutate = async (token: string, query: string, input: Record<string, unknown>) => {
      const response = await graphql(app.url, query, { token, variables: { input } });
      expect(response.errors).toBeUndefined();
      return response.data;
    };
    await report();
    expect((await report()).checkIns.total).toBe(4);

    const [entry] = await app.db.insert(guestEntries).values({ nightId: night.id, name: 'Late', token: crypto.randomUUID() }).returning();
    await mutate(host, 'mutation($input: CheckInInput!) { checkIn(input: $input) { id } }', { token: entry!.token, gate: 'C' });
    expect((await report()).checkIns.total).toBe(5);

    const [walkIn] = await app.db.select().from(tableSessions).where(eq(tableSessions.nightId, night.id)).then((rows) => rows.filter((r) => !r.bookingId));
    await mutate(host, 'mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { id } }', {
      sessionId: walkIn!.id, amountMinor: 250, currency: 'EUR', idempotencyKey: crypto.randomUUID(),
    });
    expect((await report()).deposits.total.amountMinor).toBe(3_500_000_750);

    const [during] = await app.db.select().from(voteSessions).where(eq(voteSessions.status, 'active')).then((rows) => rows.filter((r) => r.clubId === club.id));
    const [song] = await app.db.select().from(voteSessionSongs).where(eq(voteSessionSongs.sessionId, during!.id));
    await mutate(guest, 'mutation($input: CastVoteInput!) { castVote(input: $input) { id } }', { sessionId: during!.id, songId: song!.songId });
    expect((await report()).voting.votes).toBe(7);

    const [free] = await app.db.select().from(tables).where(eq(tables.label, 'T4')).then((rows) => rows.filter((r) => r.clubId === club.id));
    await mutate(guest, 'mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }', {
      nightId: night.id, tableId: free!.id, partySize: 2, idempotencyKey: crypto.randomUUID(),
    });
    expect((await report()).bookings.held).toBe(2);

    await mutate(manager, 'mutation($input: SendCampaignInput!) { sendCampaign(input: $input) { id } }', { clubId: club.id, message: 'Doors at ten' });
    // Every guest who booked at the club: the five of the fixture and the one who just held.
    expect((await report()).campaigns.messages).toBe(3 + 6);
  });

  it('serves a cached report only to whom the reports service lets read it, checked on every request', async () => {
    const { club, night } = await busyNight(app, fx, new Date(Date.now() - 60 * MIN));
    const admin = await app.token({ subject: 'report-admin', roles: ['admin'] });
    const subject = `report-staff-${club.id}`;
    const staff = await app.token({ subject });
    const addStaff = await graphql(app.url, 'mutation($input: AddStaffInput!) { addStaff(input: $input) { role } }', {
      token: admin, variables: { input: { clubId: club.id, subject, role: 'MANAGER' } },
    });
    expect(addStaff.errors).toBeUndefined();
    const read = (token: string) => graphql(app.url, REPORT, { token, variables: { id: night.id } });
    await read(staff);
    expect((await read(staff)).extensions).toMatchObject({ responseCache: 'hit' });
    const host = await app.token({ subject: 'report-cached-host', roles: ['host'], clubIds: [club.id] });
    for (const refused of [await read(host), await graphql(app.url, REPORT, { variables: { id: night.id } })]) {
      expect(refused.data.night.report).toBeNull();
      expect((refused.extensions as Record<string, unknown> | undefined)?.responseCache).toBeUndefined();
    }
    const removed = await graphql(app.url, 'mutation($club: ID!, $subject: String!) { removeStaff(clubId: $club, subject: $subject) }', {
      token: admin, variables: { club: club.id, subject },
    });
    expect(removed.errors).toBeUndefined();
    const after = await read(staff);
    expect(after.data.night.report).toBeNull();
    expect(codes(after)).toEqual(['FORBIDDEN']);
  });

  it('writes the final report of a night that is over once, and reads that row from then on', async () => {
    const { night, manager, expected } = await busyNight(app, fx, new Date(Date.now() - 3 * 60 * MIN));
    await app.db.update(nights).set({ endsAt: new Date(Date.now() - MIN) }).where(eq(nights.id, night.id));
    expect(await writeFinalReports(app.db)).toContain(night.id);
    expect(await writeFinalReports(app.db)).not.toContain(night.id);
    const response = await graphql(app.url, REPORT, { token: manager, variables: { id: night.id } });
    // The campaigns' week ends at the night's new end: the ten-day-old one is still out, the other in.
    expect(response.data.night.report).toMatchObject({ ...expected, final: true, campaigns: expect.any(Object) });
    expect(await app.db.select().from(nightReports).where(eq(nightReports.nightId, night.id))).toHaveLength(1);
  });

  it('shows the report to managers of the club only', async () => {
    const { club, night } = await busyNight(app, fx, new Date(Date.now() - 60 * MIN));
    const host = await app.token({ subject: 'report-host', roles: ['host'], clubIds: [club.id] });
    const other = await app.token({ subject: 'report-other', roles: ['manager'], clubIds: [crypto.randomUUID()] });
    for (const token of [host, other]) {
      const response = await graphql(app.url, REPORT, { token, variables: { id: night.id } });
      expect(response.data.night.report).toBeNull();
      expect(codes(response)).toEqual(['FORBIDDEN']);
    }
  });
});

describe.skipIf(!realServers)('the night report with nothing cached (needs real PostgreSQL: PGlite runs statements on the event loop, so requests never overlap)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ NIGHT_REPORT_CACHE: 'false', NIGHT_REPORT_INTERVAL_SECONDS: '3600', OUTBOX_WORKERS: '0' });
  });
  afterAll(() => app?.stop());

  it('computes for concurrent readers a few times, not once each, and never from before a request', async () => {
    const fx = fixtures(app.db);
    const { night, manager, expected } = await busyNight(app, fx, new Date(Date.now() - 60 * MIN));
    const read = async () => {
      const sentAt = Date.now();
      const response = await graphql(app.url, REPORT, { token: manager, variables: { id: night.id } });
      return { response, sentAt };
    };
    const alone = await read();
    expect(alone.response.data.night.report).toMatchObject(expected);
    const readers = await Promise.all(Array.from({ length: 8 }, read));
    for (const { response, sentAt } of readers) {
      expect(response.data.night.report).toMatchObject(expected);
      // Computed after the request was sent (the database's clock, milliseconds: 1 ms of slack).
      expect(Date.parse(response.data.night.report.computedAt)).toBeGreaterThanOrEqual(sentAt - 1);
    }
    // Readers that arrive while one computation runs share the next; how many rounds that
    // takes depends on how the requests spread over time (two when all arrive during the
    // first, more on a loaded machine), never one per reader.
    const computations = new Set(readers.map((r) => r.response.data.night.report.computedAt)).size;
    expect(computations).toBeLessThan(readers.length);
    const statements = readers.reduce((sum, r) => sum + r.response.extensions!.sql!.statements, 0);
    expect(statements).toBeLessThan(8 * alone.response.extensions!.sql!.statements);
  });
});

describe.skipIf(!realServers)('final night reports on several instances (needs real PostgreSQL: PGlite runs one transaction at a time)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ NIGHT_REPORT_INTERVAL_SECONDS: '3600' });
  });
  afterAll(() => app?.stop());

  it('writes each ended night’s report exactly once when three instances run the job at once', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const ended = await fx.nights(club.id, 6, new Date(Date.now() - 30 * 24 * 60 * MIN));
    const runs = await Promise.all([writeFinalReports(app.db), writeFinalReports(app.db), writeFinalReports(app.db)]);
    const written = runs.flat().filter((id) => ended.some((n) => n.id === id));
    expect(written.sort()).toEqual(ended.map((n) => n.id).sort());
    // Side by side: more than one instance wrote some.
    expect(runs.filter((r) => r.length > 0).length).toBeGreaterThan(1);
  });
});
