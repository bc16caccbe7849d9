import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookings, nights, outbox } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { untilListening } from '../support/notifications.js';
import { subscribe } from '../support/ws.js';

const SCHEDULE = `mutation($input: ScheduleNightInput!) { scheduleNight(input: $input) { id startsAt endsAt status club { id } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateNightInput!) { updateNight(id: $id, input: $input) { id startsAt endsAt } }`;
const CANCEL = `mutation($id: ID!, $reason: String!) { cancelNight(id: $id, reason: $reason) { id status cancelledAt cancelReason } }`;
const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id status } }`;
const NIGHTS = `query($from: DateTime, $to: DateTime, $first: Int, $after: String) { nights(from: $from, to: $to, first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`;

const HOUR = 3_600_000;
const at = (hoursFromNow: number) => new Date(Math.ceil(Date.now() / HOUR) * HOUR + hoursFromNow * HOUR).toISOString();

describe('nights', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp({ OUTBOX_POLL_MS: '50' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  async function club() {
    const row = await fx.club();
    const manager = await app.token({ subject: `nights-manager-${row.slug}`, roles: ['manager'], clubIds: [row.id] });
    const schedule = (startsAt: string, endsAt: string, token = manager) =>
      graphql(app.url, SCHEDULE, { token, variables: { input: { clubId: row.id, startsAt, endsAt } } });
    return { club: row, manager, schedule };
  }

  it('schedules a night, and refuses one that overlaps another night of the club with CONFLICT', async () => {
    const { club: c, schedule } = await club();
    const first = await schedule(at(24), at(30));
    expect(first.errors).toBeUndefined();
    expect(first.data.scheduleNight).toMatchObject({ startsAt: at(24), endsAt: at(30), status: 'SCHEDULED', club: { id: c.id } });
    expect(codes(await schedule(at(29), at(33)))).toEqual(['CONFLICT']);
    expect(codes(await schedule(at(20), at(25)))).toEqual(['CONFLICT']);
    // Back to back is fine, and so is another club at the same time.
    expect((await schedule(at(30), at(34))).errors).toBeUndefined();
    expect((await (await club()).schedule(at(24), at(30))).errors).toBeUndefined();
  });

  it('refuses a night that ends before it starts, lasts over 24 hours or starts in the past', async () => {
    const { club: c, schedule } = await club();
    expect(codes(await schedule(at(30), at(24)))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await schedule(at(24), at(49)))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await schedule(at(-48), at(-42)))).toEqual(['BAD_USER_INPUT']);
    expect(await app.db.select().from(nights).where(eq(nights.clubId, c.id))).toEqual([]);
  });

  it('moves a night under the same rules', async () => {
    const { manager, schedule } = await club();
    const a = (await schedule(at(24), at(30))).data.scheduleNight;
    await schedule(at(48), at(54));
    const moved = await graphql(app.url, UPDATE, { token: manager, variables: { id: a.id, input: { endsAt: at(31) } } });
    expect(moved.data.updateNight).toMatchObject({ startsAt: at(24), endsAt: at(31) });
    expect(codes(await graphql(app.url, UPDATE, { token: manager, variables: { id: a.id, input: { endsAt: at(50) } } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, UPDATE, { token: manager, variables: { id: a.id, input: { startsAt: at(47), endsAt: at(50) } } }))).toEqual(['CONFLICT']);
  });

  it('cancels a night: its bookings cancelled, its version moved, and each booked guest told once, live', async () => {
    const { club: c, manager, schedule } = await club();
    const night = (await schedule(at(24), at(30))).data.scheduleNight;
    const tableIds = (await fx.tables(c.id, 3)).map((t) => t.id);
    const guests = ['cancel-a', 'cancel-b'];
    const held = [];
    for (const [i, subject] of guests.entries()) {
      const token = await app.token({ subject });
      held.push((await graphql(app.url, HOLD, { token, variables: { input: { nightId: night.id, tableId: tableIds[i], partySize: 2, idempotencyKey: `c${i}` } } })).data.holdTable.id);
    }
    const live = await subscribe(app.url, `subscription { notifications { id kind message reason night { id status } club { id } } }`, {}, { token: await app.token({ subject: 'cancel-a' }) });
    const availability = await subscribe(app.url, `subscription($id: ID!) { availabilityChanged(nightId: $id) { version freeTables { id } } }`, { id: night.id });
    try {
      await untilListening(app, 'cancel-a', live);
      await availability.until((r) => r.length === 1);
      const cancelled = await graphql(app.url, CANCEL, { token: manager, variables: { id: night.id, reason: ' Power cut ' } });
      expect(cancelled.errors).toBeUndefined();
      expect(cancelled.data.cancelNight).toMatchObject({ status: 'CANCELLED', cancelReason: 'Power cut' });
      expect(cancelled.data.cancelNight.cancelledAt).not.toBeNull();
      const rows = await app.db.select().from(bookings).where(eq(bookings.nightId, night.id));
      expect(rows.map((b) => b.status)).toEqual(['cancelled', 'cancelled']);
      await live.until((r) => r.length === 1);
      expect(live.results[0]!.data.notifications).toMatchObject({ kind: 'NIGHT_CANCELLED', reason: 'Power cut', night: { id: night.id, status: 'CANCELLED' }, club: { id: c.id } });
      await availability.until((r) => r.some((x) => x.data.availabilityChanged.version === 3));
      // Cancelling twice is harmless: nothing more changes or is sent.
      expect((await graphql(app.url, CANCEL, { token: manager, variables: { id: night.id, reason: 'again' } })).data.cancelNight.cancelReason).toBe('Power cut');
      const notices = (await app.db.select().from(outbox)).filter((r) => (r.payload as { nightId?: string }).nightId === night.id);
      expect(notices).toHaveLength(2);
      // No hold on a cancelled night; nor is it listed any more.
      expect(codes(await graphql(app.url, HOLD, { token: await app.token({ subject: 'cancel-c' }), variables: { input: { nightId: night.id, tableId: tableIds[2], partySize: 2, idempotencyKey: 'late' } } }))).toEqual(['BAD_USER_INPUT']);
      const listed = await graphql(app.url, NIGHTS, { variables: { from: at(23), to: at(25) } });
      expect(listed.data.nights.edges.map((e: any) => e.node.id)).not.toContain(night.id);
      // Its time is free for another night.
      expect((await schedule(at(24), at(30))).errors).toBeUndefined();
    } finally {
      await Promise.all([live.close(), availability.close()]);
    }
    expect(held).toHaveLength(2);
  });

  it('lists scheduled nights of every club in a window, earliest first, in pages', async () => {
    const a = await club();
    const b = await club();
    const start = 24 * 200;
    const ids = [
      (await a.schedule(at(start + 2), at(start + 6))).data.scheduleNight.id,
      (await b.schedule(at(start + 1), at(start + 5))).data.scheduleNight.id,
      (await a.schedule(at(start + 30), at(start + 34))).data.scheduleNight.id,
    ];
    await b.schedule(at(start + 80), at(start + 84));
    const window = { from: at(start), to: at(start + 48) };
    const first = (await graphql(app.url, NIGHTS, { variables: { ...window, first: 2 } })).data.nights;
    expect(first.edges.map((e: any) => e.node.id)).toEqual([ids[1], ids[0]]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await graphql(app.url, NIGHTS, { variables: { ...window, first: 2, after: first.pageInfo.endCursor } })).data.nights;
    expect(second.edges.map((e: any) => e.node.id)).toEqual([ids[2]]);
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect(codes(await graphql(app.url, NIGHTS, { variables: { from: at(10), to: at(5) } }))).toEqual(['BAD_USER_INPUT']);
  });

  it('lets only managers of the club schedule, move and cancel its nights', async () => {
    const { club: c, schedule } = await club();
    const night = (await schedule(at(24), at(30))).data.scheduleNight;
    const host = await app.token({ subject: 'nights-host', roles: ['host'], clubIds: [c.id] });
    const other = await app.token({ subject: 'nights-other', roles: ['manager'], clubIds: [crypto.randomUUID()] });
    expect(codes(await schedule(at(48), at(50), ''))).toEqual(['UNAUTHENTICATED']);
    for (const token of [host, other]) {
      expect(codes(await schedule(at(48), at(50), token))).toEqual(['FORBIDDEN']);
      expect(codes(await graphql(app.url, UPDATE, { token, variables: { id: night.id, input: { endsAt: at(29) } } }))).toEqual(['FORBIDDEN']);
      expect(codes(await graphql(app.url, CANCEL, { token, variables: { id: night.id, reason: 'no' } }))).toEqual(['FORBIDDEN']);
    }
    const [row] = await app.db.select().from(nights).where(eq(nights.id, night.id));
    expect({ status: row!.status, endsAt: row!.endsAt.toISOString() }).toEqual({ status: 'scheduled', endsAt: at(30) });
  });
});
