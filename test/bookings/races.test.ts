import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookings } from '../../src/db/schema.js';
import { expireHolds } from '../../src/modules/bookings/expiry.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { realServers, startTestApp, type TestApp } from '../support/app.js';

const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id status table { id } } }`;

describe.skipIf(!realServers)('concurrent holds (real PostgreSQL only: PGlite runs one transaction at a time, so nothing can race)', () => {
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
    await expect.poll(async () => (await read()).freeTables.length, { timeout: 5000, interval: 100 }).toBe(3);
    // One sweep may catch all three holds or, if they expired between sweeps, fewer at a time.
    expect((await read()).version).toBeGreaterThanOrEqual(4);
    expect((await read()).version).toBeLessThanOrEqual(6);
    const rows = await app.db.select().from(bookings).where(eq(bookings.nightId, night!.id));
    expect(rows.map((r) => r.status)).toEqual(['expired', 'expired', 'expired']);
  });

  it('leaves nothing for a second sweeper that runs after the first', async () => {
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1);
    const [night] = await fx.nights(club.id, 1);
    const user = await fx.user();
    await fx.booking({ nightId: night!.id, tableId: table!.id, userId: user.id, status: 'held', holdExpiresAt: new Date(Date.now() - 1000) });
    const runs = await Promise.all([expireHolds(app.db, app.availability), expireHolds(app.db, app.availability)]);
    // Whichever instance claims the night releases the hold; together they release it once.
    expect(runs.flat().filter((id) => id === night!.id).length).toBeLessThanOrEqual(1);
    const [row] = await app.db.select().from(bookings).where(eq(bookings.nightId, night!.id));
    expect(row!.status).toBe('expired');
  });
});
