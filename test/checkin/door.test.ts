import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { realServers, startTestApp, type TestApp } from '../support/app.js';

const ADD = `mutation($input: AddGuestInput!) { addGuest(input: $input) { id name phone token agent { code } checkIn { id } } }`;
const CHECK_IN = `mutation($input: CheckInInput!) { checkIn(input: $input) { id gate checkedInAt guest { name } } }`;
const CHECK_IN_BOOKING = `mutation($input: CheckInBookingInput!) { checkInBooking(input: $input) { id gate booking { id } } }`;
const AGENT = `mutation($userId: ID!, $clubId: ID) { createAgent(input: { userId: $userId, clubId: $clubId }) { id code club { id } user { id } stats { guests checkIns } } }`;

describe('guest list and check-in', () => {
  let app: TestApp;
  let fx: Fixtures;
  let clubId: string;
  let nightId: string;
  let manager: string;
  let host: string;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
    const club = await fx.club();
    clubId = club.id;
    nightId = (await fx.nights(club.id, 1))[0]!.id;
    manager = await app.token({ subject: 'door-manager', roles: ['manager'], clubIds: [clubId] });
    host = await app.token({ subject: 'door-host', roles: ['host'], clubIds: [clubId] });
  });
  afterAll(() => app?.stop());

  const add = (name: string, extra: Record<string, unknown> = {}, token = manager) =>
    graphql(app.url, ADD, { token, variables: { input: { nightId, name, ...extra } } });

  it('adds a guest with a QR token and checks them in once; the second scan says when and where', async () => {
    const added = await add('Ana Lima', { phone: '+49 (151) 123-4567' });
    expect(added.errors).toBeUndefined();
    const guest = added.data.addGuest;
    expect(guest.phone).toBe('+491511234567');
    expect(guest.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const first = await graphql(app.url, CHECK_IN, { token: host, variables: { input: { token: guest.token, gate: 'north' } } });
    expect(first.errors).toBeUndefined();
    expect(first.data.checkIn).toMatchObject({ gate: 'north', guest: { name: 'Ana Lima' } });
    const second = await graphql(app.url, CHECK_IN, { token: host, variables: { input: { token: guest.token, gate: 'south' } } });
    expect(second.errors?.[0]?.extensions).toEqual({ code: 'CONFLICT', gate: 'north', checkedInAt: first.data.checkIn.checkedInAt });
    expect(codes(await graphql(app.url, CHECK_IN, { token: host, variables: { input: { token: 'nope', gate: 'north' } } }))).toEqual(['NOT_FOUND']);
  });

  it('checks in a confirmed booking once, and refuses one that is not confirmed', async () => {
    const club = await fx.club();
    const [table, other] = await fx.tables(club.id, 2);
    const [night] = await fx.nights(club.id, 1);
    const guest = await fx.user();
    const confirmed = await fx.booking({ nightId: night!.id, tableId: table!.id, userId: guest.id, status: 'confirmed' });
    const cancelled = await fx.booking({ nightId: night!.id, tableId: other!.id, userId: guest.id, status: 'cancelled' });
    const staff = await app.token({ subject: 'other-host', roles: ['host'], clubIds: [club.id] });
    const first = await graphql(app.url, CHECK_IN_BOOKING, { token: staff, variables: { input: { bookingId: confirmed.id, gate: 'main' } } });
    expect(first.data.checkInBooking.booking.id).toBe(confirmed.id);
    expect(codes(await graphql(app.url, CHECK_IN_BOOKING, { token: staff, variables: { input: { bookingId: confirmed.id, gate: 'main' } } }))).toEqual(['CONFLICT']);
    expect(codes(await graphql(app.url, CHECK_IN_BOOKING, { token: staff, variables: { input: { bookingId: cancelled.id, gate: 'main' } } }))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });

  it('searches the list by part of the name in any case, or by exact phone, in name order with keyset pages', async () => {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const boss = await app.token({ subject: 'search-manager', roles: ['manager'], clubIds: [club.id] });
    for (const [name, phone] of [['Zoe Annan', null], ['anna Berg', '+4930111111'], ['Bob Marley', null], ['JOHANNA K', null], ['100% Anna_', null]] as const) {
      const response = await graphql(app.url, ADD, { token: boss, variables: { input: { nightId: night!.id, name, phone } } });
      expect(response.errors).toBeUndefined();
    }
    const search = async (term: string | null, first = 10, after: string | null = null) =>
      (await graphql(app.url, `query($id: ID!, $s: String, $f: Int, $a: String) { night(id: $id) { guests(search: $s, first: $f, after: $a) { edges { node { name } } pageInfo { hasNextPage endCursor } } } }`, {
        token: boss,
        variables: { id: night!.id, s: term, f: first, a: after },
      })).data.night.guests;
    const names = (page: any) => page.edges.map((e: any) => e.node.name);
    expect(names(await search('ANN'))).toEqual(['100% Anna_', 'anna Berg', 'JOHANNA K', 'Zoe Annan']);
    expect(names(await search('+49 30 111111'))).toEqual(['anna Berg']);
    expect(names(await search('%'))).toEqual(['100% Anna_']);
    expect(names(await search('a_'))).toEqual(['100% Anna_']);
    const page1 = await search(null, 2);
    const page2 = await search(null, 2, page1.pageInfo.endCursor);
    const page3 = await search(null, 2, page2.pageInfo.endCursor);
    expect([...names(page1), ...names(page2), ...names(page3)]).toEqual(['100% Anna_', 'anna Berg', 'Bob Marley', 'JOHANNA K', 'Zoe Annan']);
    expect(page3.pageInfo.hasNextPage).toBe(false);
  });

  it('finds every match in name order on a list longer than a search looks ahead, for common and rare fragments alike', async () => {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const boss = await app.token({ subject: 'long-list-manager', roles: ['manager'], clubIds: [club.id] });
    // 2,500 guests: "Berg" every 7th from the start, "Yusuf" only among the last names in order.
    const guests = Array.from({ length: 2_500 }, (_, i) => {
      const key = String(i).padStart(4, '0');
      if (i >= 2_480) return { name: `Zz ${key} Yusuf` };
      return { name: i % 7 === 0 ? `A ${key} Berg` : `A ${key} Lind` };
    });
    for (let start = 0; start < guests.length; start += 1_000) {
      const batch = guests.slice(start, start + 1_000);
      const added = await graphql(app.url, `mutation($input: AddGuestsInput!) { addGuests(input: $input) { id } }`, { token: boss, variables: { input: { nightId: night!.id, guests: batch } } });
      expect(added.errors).toBeUndefined();
    }
    const all = async (term: string) => {
      const found: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = (await graphql(app.url, `query($id: ID!, $s: String, $a: String) { night(id: $id) { guests(search: $s, first: 100, after: $a) { edges { node { name } } pageInfo { hasNextPage endCursor } } } }`, {
          token: boss,
          variables: { id: night!.id, s: term, a: after },
        })).data.night.guests;
        found.push(...page.edges.map((e: any) => e.node.name));
        if (!page.pageInfo.hasNextPage) return found;
        after = page.pageInfo.endCursor;
      }
    };
    const expected = (fragment: string) => guests.map((g) => g.name).filter((n) => n.toLowerCase().includes(fragment)).sort();
    expect(await all('BERG')).toEqual(expected('berg'));
    expect(await all('usu')).toEqual(expected('usu'));
    expect(await all('0007')).toEqual(expected('0007'));
    expect(expected('berg')).toHaveLength(355);
    expect(expected('usu')).toHaveLength(20);
  });

  it('lists check-ins newest first, by gate, and counts them by gate and quarter hour', async () => {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1, new Date(Date.now() - 3600_000));
    const boss = await app.token({ subject: 'stats-manager', roles: ['manager'], clubIds: [club.id] });
    const gates = ['north', 'south', 'north'];
    for (const [i, gate] of gates.entries()) {
      const guest = (await graphql(app.url, ADD, { token: boss, variables: { input: { nightId: night!.id, name: `Guest ${i}` } } })).data.addGuest;
      await graphql(app.url, CHECK_IN, { token: boss, variables: { input: { token: guest.token, gate } } });
    }
    const response = await graphql(
      app.url,
      `query($id: ID!) { night(id: $id) {
        all: checkIns { edges { node { gate guest { name } } } }
        north: checkIns(gate: "north") { edges { node { guest { name } } } }
        entryStats { total byGate { gate count } byQuarterHour { startsAt count } } } }`,
      { token: boss, variables: { id: night!.id } },
    );
    expect(response.errors).toBeUndefined();
    const n = response.data.night;
    expect(n.all.edges.map((e: any) => e.node.guest.name)).toEqual(['Guest 2', 'Guest 1', 'Guest 0']);
    expect(n.north.edges.map((e: any) => e.node.guest.name)).toEqual(['Guest 2', 'Guest 0']);
    expect(n.entryStats.total).toBe(3);
    expect(n.entryStats.byGate).toEqual([{ gate: 'north', count: 2 }, { gate: 'south', count: 1 }]);
    expect(n.entryStats.byQuarterHour).toHaveLength(1);
    expect(n.entryStats.byQuarterHour[0].count).toBe(3);
    const bucket = new Date(n.entryStats.byQuarterHour[0].startsAt).getTime();
    expect((bucket - night!.startsAt.getTime()) % (15 * 60_000)).toBe(0);
  });

  it('gives a promoter a unique code; guests under it count in their stats; they may add only under their own code', async () => {
    const promoterUser = await fx.user();
    const made = await graphql(app.url, AGENT, { token: manager, variables: { userId: promoterUser.id } });
    expect(made.errors).toBeUndefined();
    const agent = made.data.createAgent;
    expect(agent.code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/);
    expect(agent.club.id).toBe(clubId);
    const again = await graphql(app.url, AGENT, { token: manager, variables: { userId: promoterUser.id } });
    expect(again.data.createAgent.code).toBe(agent.code);

    const promoter = await app.token({ subject: promoterUser.subject });
    const mine = await add('Via Promoter', { agentCode: agent.code.toLowerCase() }, promoter);
    expect(mine.errors).toBeUndefined();
    expect(mine.data.addGuest.agent.code).toBe(agent.code);
    expect(codes(await add('No Code', {}, promoter))).toEqual(['FORBIDDEN']);
    const otherUser = await fx.user();
    const other = (await graphql(app.url, AGENT, { token: manager, variables: { userId: otherUser.id } })).data.createAgent;
    expect(codes(await add('Wrong Code', { agentCode: other.code }, promoter))).toEqual(['FORBIDDEN']);
    expect(codes(await add('Unknown Code', { agentCode: 'ZZZZZZZZ' }))).toEqual(['BAD_USER_INPUT']);

    await graphql(app.url, CHECK_IN, { token: host, variables: { input: { token: mine.data.addGuest.token, gate: 'vip' } } });
    await add('Second Via Promoter', { agentCode: agent.code }, promoter);
    const stats = await graphql(app.url, AGENT, { token: manager, variables: { userId: promoterUser.id } });
    expect(stats.data.createAgent.stats).toEqual({ guests: 2, checkIns: 1 });
  });

  it('takes createAgent’s values as one input, or as the deprecated separate arguments, never both or neither', async () => {
    const user = await fx.user();
    const separate = await graphql(app.url, `mutation($u: ID!) { createAgent(userId: $u) { code } }`, { token: manager, variables: { u: user.id } });
    const asInput = await graphql(app.url, AGENT, { token: manager, variables: { userId: user.id } });
    expect(separate.errors).toBeUndefined();
    expect(asInput.data.createAgent.code).toBe(separate.data.createAgent.code);
    const both = await graphql(app.url, `mutation($u: ID!) { createAgent(input: { userId: $u }, userId: $u) { code } }`, { token: manager, variables: { u: user.id } });
    expect(codes(both)).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, `mutation { createAgent { code } }`, { token: manager }))).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses bad guest input and changes nothing', async () => {
    for (const extra of [{ name: '' }, { name: 'x'.repeat(201) }, { name: 'Ok', phone: 'call me' }]) {
      const { name, ...rest } = Object.assign({ name: 'Fine' }, extra);
      expect(codes(await add(name, rest))).toEqual(['BAD_USER_INPUT']);
    }
    expect(codes(await graphql(app.url, ADD, { token: manager, variables: { input: { nightId: '00000000-0000-4000-8000-000000000000', name: 'X' } } }))).toEqual([
      'NOT_FOUND',
    ]);
    expect(codes(await graphql(app.url, CHECK_IN, { token: host, variables: { input: { token: 'x', gate: '' } } }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe.skipIf(!realServers)('check-in races (needs real PostgreSQL: PGlite runs one statement at a time, so nothing can race)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ DB_POOL_MAX: '20' });
  });
  afterAll(() => app?.stop());

  it('lets exactly one of 20 concurrent scans of the same token check the guest in', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const boss = await app.token({ subject: 'race-manager', roles: ['manager'], clubIds: [club.id] });
    const guest = (await graphql(app.url, ADD, { token: boss, variables: { input: { nightId: night!.id, name: 'Racer' } } })).data.addGuest;
    const scans = await Promise.all(
      Array.from({ length: 20 }, (_, i) => graphql(app.url, CHECK_IN, { token: boss, variables: { input: { token: guest.token, gate: `gate-${i}` } } })),
    );
    expect(scans.filter((s) => !s.errors)).toHaveLength(1);
    expect(scans.filter((s) => s.errors).map((s) => codes(s)[0])).toEqual(Array(19).fill('CONFLICT'));
  });
});
