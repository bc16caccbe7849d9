import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkIns, users } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

const HOUR = 3_600_000;
const NIGHT_BOOKINGS = `query($id: ID!, $status: [BookingStatus!], $search: String, $first: Int, $after: String) {
  night(id: $id) { bookings(status: $status, search: $search, first: $first, after: $after) {
    edges { node { id status partySize checkedIn table { label } guest { subject displayName } } } pageInfo { hasNextPage endCursor } } } }`;

describe('booking lists', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  async function nightWithGuests() {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const tables = await fx.tables(club.id, 4);
    const names = ['Anna Berg', 'Boris Kim', 'Anja Roth', 'Chen Li'];
    const made = [];
    for (const [i, name] of names.entries()) {
      const guest = await fx.user(`guest-${club.id}-${i}`);
      await app.db.update(users).set({ displayName: name }).where(eq(users.id, guest.id));
      made.push(
        await fx.booking({
          nightId: night!.id,
          tableId: tables[i]!.id,
          userId: guest.id,
          status: i === 3 ? 'cancelled' : 'confirmed',
          createdAt: new Date(Date.UTC(2026, 10, 1, 20, i)),
        }),
      );
    }
    const host = await fx.user();
    await app.db.insert(checkIns).values({ nightId: night!.id, bookingId: made[0]!.id, gate: 'A', checkedInBy: host.id });
    const staff = await app.token({ subject: `host-${club.id}`, roles: ['host'], clubIds: [club.id] });
    return { club, night: night!, made, staff };
  }

  it('shows staff who booked which table, newest first, with the guest and whether they came in', async () => {
    const { night, made, staff } = await nightWithGuests();
    const all = await graphql(app.url, NIGHT_BOOKINGS, { token: staff, variables: { id: night.id } });
    expect(all.errors).toBeUndefined();
    expect(all.data.night.bookings.edges.map((e: any) => e.node.id)).toEqual([...made].reverse().map((b) => b.id));
    expect(all.data.night.bookings.edges.at(-1).node).toMatchObject({ status: 'CONFIRMED', checkedIn: true, table: { label: 'T1' }, guest: { displayName: 'Anna Berg' } });
    expect(all.data.night.bookings.edges[1].node.checkedIn).toBe(false);
  });

  it('narrows by status and by a part of the name or subject, in pages', async () => {
    const { night, made, staff } = await nightWithGuests();
    const read = (variables: Record<string, unknown>) => graphql(app.url, NIGHT_BOOKINGS, { token: staff, variables: { id: night.id, ...variables } });
    const ids = async (variables: Record<string, unknown>) => (await read(variables)).data.night.bookings.edges.map((e: any) => e.node.id);
    expect(await ids({ status: ['CANCELLED'] })).toEqual([made[3]!.id]);
    expect(await ids({ search: 'an' })).toEqual([made[2]!.id, made[0]!.id]); // Anja, Anna: any case
    expect(await ids({ search: 'I' })).toEqual([made[3]!.id, made[1]!.id]); // Chen Li, Boris Kim
    expect(await ids({ search: 'I', status: ['CONFIRMED'] })).toEqual([made[1]!.id]);
    expect(await ids({ search: '100%' })).toEqual([]);
    const page = (await read({ first: 2 })).data.night.bookings;
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(await ids({ first: 2, after: page.pageInfo.endCursor })).toEqual([made[1]!.id, made[0]!.id]);
  });

  it('shows a night’s bookings to its club’s staff only', async () => {
    const { club, night } = await nightWithGuests();
    const guest = await app.token({ subject: 'list-guest' });
    const other = await app.token({ subject: 'list-other', roles: ['host'], clubIds: [crypto.randomUUID()] });
    for (const token of [guest, other]) {
      const response = await graphql(app.url, NIGHT_BOOKINGS, { token, variables: { id: night.id } });
      expect(response.data.night.bookings).toBeNull();
      expect(codes(response)).toEqual(['FORBIDDEN']);
    }
    expect(codes(await graphql(app.url, NIGHT_BOOKINGS, { variables: { id: night.id } }))).toEqual(['UNAUTHENTICATED']);
    void club;
  });

  it('lists a guest’s upcoming bookings soonest first and past ones latest first', async () => {
    const club = await fx.club();
    const me = await fx.user('my-bookings');
    const token = await app.token({ subject: 'my-bookings' });
    const [table] = await fx.tables(club.id, 1);
    const starts = [-72, 48, -24, 24].map((h) => new Date(Date.now() + h * HOUR));
    const byStart = new Map<number, string>();
    for (const start of starts) {
      const [night] = await fx.nights(club.id, 1, start);
      byStart.set(start.getTime(), (await fx.booking({ nightId: night!.id, tableId: table!.id, userId: me.id })).id);
    }
    const query = `query($when: BookingsWhen) { me { bookings(when: $when) { edges { node { id } } } } }`;
    const ids = async (when?: string) => (await graphql(app.url, query, { token, variables: { when } })).data.me.bookings.edges.map((e: any) => e.node.id);
    const id = (h: number) => byStart.get(starts[[-72, 48, -24, 24].indexOf(h)]!.getTime());
    expect(await ids('UPCOMING')).toEqual([id(24), id(48)]);
    expect(await ids('PAST')).toEqual([id(-24), id(-72)]);
    expect((await ids('ALL')).sort()).toEqual([...byStart.values()].sort());
    expect(await ids()).toEqual(await ids('ALL'));
  });

  it('offers only the free tables that seat the party', async () => {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    await fx.tables(club.id, 1, { label: 'Small', capacity: 2, x: 0 });
    await fx.tables(club.id, 1, { label: 'Big', capacity: 8, x: 5 });
    const query = `query($id: ID!, $n: Int) { night(id: $id) { availability { freeTables(partySize: $n) { label } } } }`;
    const free = async (n?: number) => (await graphql(app.url, query, { variables: { id: night!.id, n } })).data.night.availability.freeTables.map((t: any) => t.label);
    expect((await free()).sort()).toEqual(['Big', 'Small']);
    expect(await free(3)).toEqual(['Big']);
    expect(await free(9)).toEqual([]);
    // Identifiable for client caches: the snapshot names its night.
    const named = await graphql(app.url, `query($id: ID!) { night(id: $id) { availability { nightId night { id } } } }`, { variables: { id: night!.id } });
    expect(named.data.night.availability).toEqual({ nightId: night!.id, night: { id: night!.id } });
  });

  it('costs the same statements for one night’s bookings page as for fifty nights’', async () => {
    const counts = [];
    for (const nightCount of [1, 50]) {
      const club = await fx.club();
      const nightRows = await fx.nights(club.id, nightCount);
      const [table] = await fx.tables(club.id, 1);
      const guest = await fx.user();
      for (const n of nightRows) await fx.booking({ nightId: n.id, tableId: table!.id, userId: guest.id });
      const staff = await app.token({ subject: `pin-${club.id}`, roles: ['host'], clubIds: [club.id] });
      const response = await graphql(
        app.url,
        `query($slug: String!) { club(slug: $slug) { nights(first: 50) { edges { node { bookings(first: 5) { edges { node { id checkedIn table { label } guest { subject } } } } } } } } }`,
        { token: staff, variables: { slug: club.slug } },
      );
      expect(response.errors).toBeUndefined();
      const lists = response.data.club.nights.edges.map((e: any) => e.node.bookings.edges.map((b: any) => b.node.guest.subject));
      expect(lists).toEqual(nightRows.map(() => [guest.subject]));
      counts.push(response.extensions!.sql!.statements);
    }
    // The club, its nights, the memberships, the bookings with their guests, the tables, the
    // check-ins; and for what the host may see of the guests: the host's own user row (found
    // or created: 2) and the clubs the guests visit (1).
    expect(counts).toEqual([9, 9]);
  });
});
