import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookings, nights } from '../../src/db/schema.js';
import { expireHolds } from '../../src/modules/bookings/expiry.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { realServers, startTestApp, type TestApp } from '../support/app.js';
import { latch, within } from '../support/bounded.js';

const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id status table { id } } }`;

describe.skipIf(!realServers)('concurrent holds (needs real PostgreSQL: PGlite runs one transaction at a time, so nothing can race)', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    // 1,000 holds queue on one night's lock: let them wait for a connection as long as that takes.
    app = await startTestApp({ DB_POOL_MAX: '20', DB_POOL_WAIT_TIMEOUT_MS: '30000' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  const tokens = (prefix: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => app.token({ subject: `${prefix}-${i}` })));

  it('lets exactly 1 of 200 guests holding the same table at once succeed; 199 get CONFLICT', async () => {
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1, { capacity: 6 });
    const [night] = await fx.nights(club.id, 1);
    const guests = await tokens('race-one', 200);
    const responses = await Promise.all(
      guests.map((token, i) =>
        graphql(app.url, HOLD, { token, variables: { input: { nightId: night!.id, tableId: table!.id, partySize: 2, idempotencyKey: `k${i}` } } }),
      ),
    );
    const outcomes = responses.map((r) => (r.errors ? codes(r)[0] : r.data.holdTable.status));
    expect(outcomes.filter((o) => o === 'HELD')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'CONFLICT')).toHaveLength(199);
    const live = await app.db.select().from(bookings).where(and(eq(bookings.tableId, table!.id), inArray(bookings.status, ['held', 'confirmed'])));
    expect(live).toHaveLength(1);
  });

  it('gives 1,000 holds spread over 50 tables exactly 50 HELD bookings, one per table, and no free table', async () => {
    const club = await fx.club();
    const tables = await fx.tables(club.id, 50, { capacity: 6 });
    const [night] = await fx.nights(club.id, 1);
    const guests = await tokens('race-many', 1000);
    const responses = await Promise.all(
      guests.map((token, i) =>
        graphql(app.url, HOLD, {
          token,
          variables: { input: { nightId: night!.id, tableId: tables[i % 50]!.id, partySize: 2, idempotencyKey: `k${i}` } },
        }),
      ),
    );
    const held = responses.filter((r) => !r.errors).map((r) => r.data.holdTable.table.id);
    expect(held).toHaveLength(50);
    expect(new Set(held).size).toBe(50);
    expect(responses.filter((r) => r.errors).map((r) => codes(r)[0])).toEqual(Array(950).fill('CONFLICT'));
    const rows = await app.db.select().from(bookings).where(eq(bookings.nightId, night!.id));
    expect(rows).toHaveLength(50);
    const availability = await graphql(app.url, `query($id: ID!) { night(id: $id) { availability { version freeTables { id } } } }`, {
      variables: { id: night!.id },
    });
    expect(availability.data.night.availability.freeTables).toEqual([]);
    expect(availability.data.night.availability.version).toBe(50);
  });

  it('counts a hold replayed 20 times at once as one booking', async () => {
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1);
    const [night] = await fx.nights(club.id, 1);
    const token = await app.token({ subject: 'impatient' });
    const input = { nightId: night!.id, tableId: table!.id, partySize: 2, idempotencyKey: 'double-click' };
    const responses = await Promise.all(Array.from({ length: 20 }, () => graphql(app.url, HOLD, { token, variables: { input } })));
    expect(responses.flatMap((r) => r.errors ?? [])).toEqual([]);
    expect(new Set(responses.map((r) => r.data.holdTable.id)).size).toBe(1);
  });
});

describe('the expiry sweep', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp({ HOLD_TTL_SECONDS: '1', HOLD_SWEEP_INTERVAL_SECONDS: '0.2' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('releases expired holds by itself, bumping the night’s version with each release', async () => {
    const club = await fx.club();
    const tables = await fx.tables(club.id, 3);
    const [night] = await fx.nights(club.id, 1);
    const token = await app.token({ subject: 'sweep-guest' });
    for (const [i, table] of tables.entries()) {
      await graphql(app.url, HOLD, { token, variables: { input: { nightId: night!.id, tableId: table.id, partySize: 2, idempotencyKey: `s${i}` } } });
    }
    const query = `query($id: ID!) { night(id: $id) { availability { version freeTables { id } } } }`;
    const read = async () => (await graphql(app.url, query, { variables: { id: night!.id } })).data.night.availability;
    expect(await read()).toEqual({ version: 3, freeTables: [] });
    await expect.poll(async () => (await read()).freeTables.length, { timeout: 10_000, interval: 100 }).toBe(3);
    // One sweep may catch all three holds or, if they expired between sweeps, fewer at a time.
    expect((await read()).version).toBeGreaterThanOrEqual(4);
    expect((await read()).version).toBeLessThanOrEqual(6);
    const rows = await app.db.select().from(bookings).where(eq(bookings.nightId, night!.id));
    expect(rows.map((r) => r.status)).toEqual(['expired', 'expired', 'expired']);
  });

});

describe.skipIf(!realServers)('concurrent expiry sweeps (needs real PostgreSQL: PGlite runs one transaction at a time, so nothing can race)', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    // The sweeps under test are the ones the test runs; the app's own would join in.
    app = await startTestApp({ HOLD_SWEEP_INTERVAL_SECONDS: '3600' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  async function expiredHold() {
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1);
    const [night] = await fx.nights(club.id, 1);
    const user = await fx.user();
    const booking = await fx.booking({ nightId: night!.id, tableId: table!.id, userId: user.id, status: 'held', holdExpiresAt: new Date(Date.now() - 1000) });
    return { nightId: night!.id, bookingId: booking.id };
  }
  const versionOf = async (nightId: string) => (await app.db.select({ v: nights.availabilityVersion }).from(nights).where(eq(nights.id, nightId)))[0]!.v;

  it('releases an expired hold exactly once when two sweepers run at the same time', async () => {
    const { nightId, bookingId } = await expiredHold();
    const runs = await Promise.all([expireHolds(app.db, app.availability), expireHolds(app.db, app.availability)]);
    expect(runs.flat().filter((id) => id === nightId)).toEqual([nightId]);
    expect(await versionOf(nightId)).toBe(1);
    const [row] = await app.db.select().from(bookings).where(eq(bookings.id, bookingId));
    expect(row!.status).toBe('expired');
  });

  it('passes over a night another transaction holds locked instead of waiting for it, and releases it on a later sweep', async () => {
    const { nightId, bookingId } = await expiredHold();
    const holding = latch();
    const release = latch();
    // Another instance's sweep, or a booking change, mid-transaction on this night.
    const other = app.db.transaction(async (tx) => {
      await tx.select({ id: nights.id }).from(nights).where(eq(nights.id, nightId)).for('update');
      holding.open();
      await release.wait;
    });
    try {
      await holding.wait;
      // Without SKIP LOCKED this sweep would wait for the other transaction: the bound fails it.
      const passed = await within(5_000, 'a sweep beside a locked night', expireHolds(app.db, app.availability));
      expect(passed).not.toContain(nightId);
      const [row] = await app.db.select().from(bookings).where(eq(bookings.id, bookingId));
      expect(row!.status).toBe('held');
    } finally {
      release.open();
      await other;
    }
    expect(await expireHolds(app.db, app.availability)).toContain(nightId);
    expect(await versionOf(nightId)).toBe(1);
  });
});
