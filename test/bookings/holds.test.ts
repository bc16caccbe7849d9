import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookings } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id status partySize holdExpiresAt table { id label } night { id } } }`;
const CONFIRM = `mutation($id: ID!) { confirmBooking(id: $id) { id status holdExpiresAt } }`;
const CANCEL = `mutation($id: ID!) { cancelBooking(id: $id) { id status } }`;
const AVAILABILITY = `query($id: ID!) { night(id: $id) { availability { version tables { state table { id } } } } }`;

let keys = 0;
const key = () => `key-${(keys += 1)}`;

describe('holding, confirming and cancelling a table', () => {
  let app: TestApp;
  let fx: Fixtures;
  let clubId: string;
  let tableIds: string[];
  let nightId: string;
  let guest: string;
  let otherGuest: string;
  let host: string;

  beforeAll(async () => {
    app = await startTestApp({ HOLD_TTL_SECONDS: '600' });
    fx = fixtures(app.db);
    const club = await fx.club();
    clubId = club.id;
    tableIds = (await fx.tables(club.id, 8, { capacity: 4 })).map((t) => t.id);
    nightId = (await fx.nights(club.id, 1))[0]!.id;
    guest = await app.token({ subject: 'guest-1' });
    otherGuest = await app.token({ subject: 'guest-2' });
    host = await app.token({ subject: 'host-1', roles: ['host'], clubIds: [clubId] });
  });
  afterAll(() => app?.stop());

  const hold = (tableIndex: number, token = guest, extra: Record<string, unknown> = {}) =>
    graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId: tableIds[tableIndex], partySize: 2, idempotencyKey: key(), ...extra } } });
  const stateOf = async (tableIndex: number) => {
    const response = await graphql(app.url, AVAILABILITY, { variables: { id: nightId } });
    const version: number = response.data.night.availability.version;
    const entry = response.data.night.availability.tables.find((t: any) => t.table.id === tableIds[tableIndex]);
    return { version, state: entry.state as string };
  };

  it('holds a free table until the hold TTL, and availability shows it HELD at a newer version', async () => {
    const before = await stateOf(0);
    const started = Date.now();
    const response = await hold(0);
    expect(response.errors).toBeUndefined();
    const booking = response.data.holdTable;
    expect(booking).toMatchObject({ status: 'HELD', partySize: 2, table: { id: tableIds[0] }, night: { id: nightId } });
    const expiresIn = new Date(booking.holdExpiresAt).getTime() - started;
    expect(expiresIn).toBeGreaterThan(590_000);
    expect(expiresIn).toBeLessThan(610_000);
    const after = await stateOf(0);
    expect(before.state).toBe('FREE');
    expect(after).toEqual({ version: before.version + 1, state: 'HELD' });
  });

  it('confirms the holder’s own hold, and the table shows BOOKED', async () => {
    const { data } = await hold(1);
    const confirmed = await graphql(app.url, CONFIRM, { token: guest, variables: { id: data.holdTable.id } });
    expect(confirmed.errors).toBeUndefined();
    expect(confirmed.data.confirmBooking).toEqual({ id: data.holdTable.id, status: 'CONFIRMED', holdExpiresAt: null });
    expect((await stateOf(1)).state).toBe('BOOKED');
    const again = await graphql(app.url, CONFIRM, { token: guest, variables: { id: data.holdTable.id } });
    expect(again.data.confirmBooking.status).toBe('CONFIRMED');
  });

  it('refuses to confirm someone else’s hold with FORBIDDEN, changing nothing', async () => {
    const { data } = await hold(2);
    const response = await graphql(app.url, CONFIRM, { token: otherGuest, variables: { id: data.holdTable.id } });
    expect(codes(response)).toEqual(['FORBIDDEN']);
    const [row] = await app.db.select().from(bookings).where(eq(bookings.id, data.holdTable.id));
    expect(row!.status).toBe('held');
  });

  it('lets the holder or staff of the club cancel, and nobody else', async () => {
    const first = (await hold(3)).data.holdTable;
    expect(codes(await graphql(app.url, CANCEL, { token: otherGuest, variables: { id: first.id } }))).toEqual(['FORBIDDEN']);
    const cancelled = await graphql(app.url, CANCEL, { token: guest, variables: { id: first.id } });
    expect(cancelled.data.cancelBooking).toEqual({ id: first.id, status: 'CANCELLED' });
    expect((await stateOf(3)).state).toBe('FREE');

    const second = (await hold(3)).data.holdTable;
    const byHost = await graphql(app.url, CANCEL, { token: host, variables: { id: second.id } });
    expect(byHost.data.cancelBooking.status).toBe('CANCELLED');
    const twice = await graphql(app.url, CANCEL, { token: host, variables: { id: second.id } });
    expect(twice.data.cancelBooking.status).toBe('CANCELLED');
  });

  it('answers CONFLICT for a table that is held, booked or seated', async () => {
    await hold(4);
    const held = await hold(4, otherGuest);
    expect(codes(held)).toEqual(['CONFLICT']);
    expect(held.errors![0]!.extensions).toMatchObject({ state: 'HELD' });

    const booked = await hold(1, otherGuest);
    expect(booked.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', state: 'BOOKED' });

    const hostUser = await fx.user();
    await fx.tableSession({ nightId, tableId: tableIds[5]!, openedBy: hostUser.id });
    const seated = await hold(5, otherGuest);
    expect(seated.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', state: 'SEATED' });
  });

  it('refuses bad input with BAD_USER_INPUT or NOT_FOUND and writes nothing', async () => {
    const count = async () => (await app.db.select().from(bookings)).length;
    const before = await count();
    const otherClub = await fx.club();
    const [foreignTable] = await fx.tables(otherClub.id, 1);
    const past = await fx.nights(clubId, 1, new Date(Date.now() - 48 * 3600_000));
    const cases: [Record<string, unknown>, string][] = [
      [{ partySize: 5 }, 'BAD_USER_INPUT'],
      [{ partySize: 0 }, 'BAD_USER_INPUT'],
      [{ idempotencyKey: '' }, 'BAD_USER_INPUT'],
      [{ idempotencyKey: 'k'.repeat(201) }, 'BAD_USER_INPUT'],
      [{ tableId: foreignTable!.id }, 'BAD_USER_INPUT'],
      [{ tableId: 'not-an-id' }, 'BAD_USER_INPUT'],
      [{ nightId: past[0]!.id }, 'BAD_USER_INPUT'],
      [{ nightId: '00000000-0000-4000-8000-000000000000' }, 'NOT_FOUND'],
      [{ nightId: 'nope' }, 'NOT_FOUND'],
    ];
    for (const [extra, code] of cases) {
      const response = await hold(6, guest, extra);
      expect({ extra, codes: codes(response) }).toEqual({ extra, codes: [code] });
    }
    expect(codes(await graphql(app.url, CONFIRM, { token: guest, variables: { id: '00000000-0000-4000-8000-000000000000' } }))).toEqual(['NOT_FOUND']);
    expect(codes(await graphql(app.url, HOLD, { variables: { input: { nightId, tableId: tableIds[6], partySize: 2, idempotencyKey: 'anon' } } }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(await count()).toBe(before);
  });

  it('replays a hold with the same key and input, and refuses the key with other input', async () => {
    const input = { nightId, tableId: tableIds[7], partySize: 2, idempotencyKey: 'replay-me' };
    const first = await graphql(app.url, HOLD, { token: guest, variables: { input } });
    const replay = await graphql(app.url, HOLD, { token: guest, variables: { input } });
    expect(replay.errors).toBeUndefined();
    expect(replay.data.holdTable.id).toBe(first.data.holdTable.id);
    const reused = await graphql(app.url, HOLD, { token: guest, variables: { input: { ...input, partySize: 3 } } });
    expect(codes(reused)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    // Keys belong to their user: another guest's same key is a new request (here: a taken table).
    const otherUser = await graphql(app.url, HOLD, { token: otherGuest, variables: { input } });
    expect(codes(otherUser)).toEqual(['CONFLICT']);
  });

  it('lists the guest’s bookings newest first, in pages', async () => {
    const lister = await fx.user('lister');
    const token = await app.token({ subject: 'lister' });
    const [night] = await fx.nights(clubId, 1, new Date(Date.now() + 30 * 24 * 3_600_000));
    const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 12, minutes));
    // Written oldest last, so neither insertion order nor id order gives the expected order.
    const made = [];
    for (const [i, minutes] of [2, 0, 1].entries()) {
      made.push(await fx.booking({ nightId: night!.id, tableId: tableIds[i]!, userId: lister.id, createdAt: at(minutes) }));
    }
    const [newest, oldest, middle] = made.map((b) => b.id);
    const page = `query($after: String) { me { bookings(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }`;
    const first = (await graphql(app.url, page, { token })).data.me.bookings;
    expect(first.edges.map((e: any) => e.node.id)).toEqual([newest, middle]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await graphql(app.url, page, { token, variables: { after: first.pageInfo.endCursor } })).data.me.bookings;
    expect(second.edges.map((e: any) => e.node.id)).toEqual([oldest]);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('shows a booking to its guest and the club’s staff, and to nobody else', async () => {
    const response = await hold(6);
    const id = response.data.holdTable.id;
    const query = `query($id: ID!) { booking(id: $id) { id } }`;
    expect((await graphql(app.url, query, { token: guest, variables: { id } })).data.booking.id).toBe(id);
    expect((await graphql(app.url, query, { token: host, variables: { id } })).data.booking.id).toBe(id);
    expect(codes(await graphql(app.url, query, { token: otherGuest, variables: { id } }))).toEqual(['FORBIDDEN']);
  });
});

describe('expired holds', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp({ HOLD_TTL_SECONDS: '1', HOLD_SWEEP_INTERVAL_SECONDS: '3600' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('frees the table for the next guest once the hold expires, and the first confirm gets HOLD_EXPIRED', async () => {
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1);
    const [night] = await fx.nights(club.id, 1);
    const first = await app.token({ subject: 'slow-guest' });
    const second = await app.token({ subject: 'quick-guest' });
    const input = { nightId: night!.id, tableId: table!.id, partySize: 2 };
    const held = await graphql(app.url, HOLD, { token: first, variables: { input: { ...input, idempotencyKey: 'a' } } });
    expect(held.data.holdTable.status).toBe('HELD');
    await new Promise((r) => setTimeout(r, 1200));
    const next = await graphql(app.url, HOLD, { token: second, variables: { input: { ...input, idempotencyKey: 'b' } } });
    expect(next.errors).toBeUndefined();
    expect(next.data.holdTable.status).toBe('HELD');
    const [old] = await app.db.select().from(bookings).where(eq(bookings.id, held.data.holdTable.id));
    expect(old!.status).toBe('expired');
    const late = await graphql(app.url, CONFIRM, { token: first, variables: { id: held.data.holdTable.id } });
    expect(codes(late)).toEqual(['HOLD_EXPIRED']);
  });

  it('releases an expired hold when confirmed late, and shows the table free again', async () => {
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1);
    const [night] = await fx.nights(club.id, 1);
    const token = await app.token({ subject: 'late-confirmer' });
    const held = await graphql(app.url, HOLD, { token, variables: { input: { nightId: night!.id, tableId: table!.id, partySize: 2, idempotencyKey: 'c' } } });
    await new Promise((r) => setTimeout(r, 1200));
    expect(codes(await graphql(app.url, CONFIRM, { token, variables: { id: held.data.holdTable.id } }))).toEqual(['HOLD_EXPIRED']);
    const availability = await graphql(app.url, AVAILABILITY, { variables: { id: night!.id } });
    expect(availability.data.night.availability.tables[0].state).toBe('FREE');
  });
});
