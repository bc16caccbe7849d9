import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

describe('clubs, nights and availability', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('pages through clubs by slug with opaque cursors', async () => {
    for (const slug of ['aa-one', 'aa-two', 'aa-three']) await fx.club({ slug });
    const query = `query($after: String) { clubs(first: 2, after: $after) { edges { cursor node { slug } } pageInfo { hasNextPage endCursor } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const response: any = await graphql(app.url, query, { variables: { after } });
      seen.push(...response.data.clubs.edges.map((e: any) => e.node.slug));
      if (!response.data.clubs.pageInfo.hasNextPage) break;
      after = response.data.clubs.pageInfo.endCursor;
    }
    expect(seen.filter((s) => s.startsWith('aa-'))).toEqual(['aa-one', 'aa-three', 'aa-two']);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('finds a club by slug with its tables in label order and its nights earliest first', async () => {
    const club = await fx.club({ currency: 'KRW' });
    await fx.tables(club.id, 12);
    const nights = await fx.nights(club.id, 3);
    const response = await graphql(
      app.url,
      `query($slug: String!) { club(slug: $slug) { id slug timezone currency tables { label minDeposit { amountMinor currency } x y width height }
        nights(first: 2) { edges { node { id startsAt endsAt club { slug } } } pageInfo { hasNextPage endCursor } } } }`,
      { variables: { slug: club.slug } },
    );
    expect(response.errors).toBeUndefined();
    const found = response.data.club;
    expect(found.tables.map((t: any) => t.label)).toEqual(Array.from({ length: 12 }, (_, i) => `T${i + 1}`));
    expect(found.tables[0].minDeposit).toEqual({ amountMinor: 10_000, currency: 'KRW' });
    expect(found.nights.edges.map((e: any) => e.node.id)).toEqual([nights[0]!.id, nights[1]!.id]);
    expect(found.nights.edges[0].node.startsAt).toBe(nights[0]!.startsAt.toISOString());
    expect(found.nights.pageInfo.hasNextPage).toBe(true);

    const next = await graphql(
      app.url,
      `query($slug: String!, $after: String) { club(slug: $slug) { nights(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage } } } }`,
      { variables: { slug: club.slug, after: found.nights.pageInfo.endCursor } },
    );
    expect(next.data.club.nights.edges.map((e: any) => e.node.id)).toEqual([nights[2]!.id]);
    expect(next.data.club.nights.pageInfo.hasNextPage).toBe(false);
  });

  it('answers null for a club, night, streamer or vote session that does not exist', async () => {
    const response = await graphql(
      app.url,
      `{ club(slug: "nowhere") { id } night(id: "00000000-0000-4000-8000-000000000000") { id }
         streamer(id: "00000000-0000-4000-8000-000000000000") { id } voteSession(id: "00000000-0000-4000-8000-000000000000") { id } }`,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({ club: null, night: null, streamer: null, voteSession: null });
  });

  it('answers null for ids that are not UUIDs instead of failing in SQL', async () => {
    const response = await graphql(app.url, `{ night(id: "42") { id } streamer(id: "x'; drop table clubs; --") { id } voteSession(id: "") { id } }`);
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({ night: null, streamer: null, voteSession: null });
  });

  it('shows each table of a night as free, held, booked or seated', async () => {
    const club = await fx.club();
    const [free, held, booked, seated, expired] = await fx.tables(club.id, 5);
    const [night] = await fx.nights(club.id, 1);
    const guest = await fx.user();
    const host = await fx.user();
    await fx.booking({ nightId: night!.id, tableId: held!.id, userId: guest.id, status: 'held', holdExpiresAt: new Date(Date.now() + 600_000) });
    await fx.booking({ nightId: night!.id, tableId: booked!.id, userId: guest.id, status: 'confirmed' });
    await fx.booking({ nightId: night!.id, tableId: expired!.id, userId: guest.id, status: 'held', holdExpiresAt: new Date(Date.now() - 1000) });
    await fx.tableSession({ nightId: night!.id, tableId: seated!.id, openedBy: host.id });

    const response = await graphql(
      app.url,
      `query($id: ID!) { night(id: $id) { availability { version freeTables { label } tables { state table { id } } } } }`,
      { variables: { id: night!.id } },
    );
    expect(response.errors).toBeUndefined();
    const availability = response.data.night.availability;
    const stateOf = Object.fromEntries(availability.tables.map((t: any) => [t.table.id, t.state]));
    expect(stateOf).toEqual({
      [free!.id]: 'FREE',
      [held!.id]: 'HELD',
      [booked!.id]: 'BOOKED',
      [seated!.id]: 'SEATED',
      // A hold past its expiry shows until it is released (sweep or next hold), which
      // bumps the version: a version always means one and the same snapshot.
      [expired!.id]: 'HELD',
    });
    expect(availability.freeTables.map((t: any) => t.label)).toEqual(['T1']);
    expect(availability.version).toBe(0);
  });

  it('gives a night without tables an empty availability', async () => {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const response = await graphql(app.url, `query($id: ID!) { night(id: $id) { availability { version tables { state } freeTables { id } } tables { state } } }`, {
      variables: { id: night!.id },
      token: await app.token({ subject: 'empty-night-host', roles: ['host'], clubIds: [club.id] }),
    });
    expect(response.errors).toBeUndefined();
    expect(response.data.night).toEqual({ availability: { version: 0, tables: [], freeTables: [] }, tables: [] });
  });
});

describe('night tables for staff', () => {
  let app: TestApp;
  let fx: Fixtures;
  let clubId: string;
  let otherClubId: string;
  let nightId: string;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
    const club = await fx.club({ currency: 'EUR' });
    const other = await fx.club();
    clubId = club.id;
    otherClubId = other.id;
    const [seated, booked] = await fx.tables(club.id, 3);
    const [night] = await fx.nights(club.id, 1);
    nightId = night!.id;
    const host = await fx.user();
    const guest = await fx.user();
    const booking = await fx.booking({ nightId, tableId: seated!.id, userId: guest.id, partySize: 4 });
    await fx.booking({ nightId, tableId: booked!.id, userId: guest.id });
    const session = await fx.tableSession({ nightId, tableId: seated!.id, bookingId: booking.id, openedBy: host.id });
    await fx.deposits(session.id, host.id, [10_000, 2_550, 7_000]);
  });
  afterAll(() => app?.stop());

  const query = `query($id: ID!) { night(id: $id) { tables {
    table { label } state
    session { id table { label } booking { partySize status night { id } table { label } } }
    booking { status partySize }
    latestDeposit { amount { amountMinor currency } }
    depositTotal { amountMinor currency } } } }`;

  it('gives a host of the club each table with its session, booking, latest deposit and exact total', async () => {
    const token = await app.token({ subject: 'host-a', roles: ['host'], clubIds: [clubId] });
    const response = await graphql(app.url, query, { variables: { id: nightId }, token });
    expect(response.errors).toBeUndefined();
    const [seated, booked, free] = response.data.night.tables;
    expect(seated.state).toBe('SEATED');
    expect(seated.session.table.label).toBe('T1');
    expect(seated.session.booking).toEqual({ partySize: 4, status: 'CONFIRMED', night: { id: nightId }, table: { label: 'T1' } });
    expect(seated.latestDeposit).toEqual({ amount: { amountMinor: 7_000, currency: 'EUR' } });
    expect(seated.depositTotal).toEqual({ amountMinor: 19_550, currency: 'EUR' });
    expect(booked).toMatchObject({ state: 'BOOKED', session: null, booking: { status: 'CONFIRMED', partySize: 2 }, latestDeposit: null });
    expect(booked.depositTotal).toEqual({ amountMinor: 0, currency: 'EUR' });
    expect(free).toMatchObject({ state: 'FREE', session: null, booking: null });
  });

  it('lets managers of the club and admins in', async () => {
    for (const token of [
      await app.token({ subject: 'manager-a', roles: ['manager'], clubIds: [clubId] }),
      await app.token({ subject: 'admin-a', roles: ['admin'] }),
    ]) {
      const response = await graphql(app.url, query, { variables: { id: nightId }, token });
      expect(response.errors).toBeUndefined();
      expect(response.data.night.tables).toHaveLength(3);
    }
  });

  it('refuses anonymous callers with UNAUTHENTICATED', async () => {
    const response = await graphql(app.url, query, { variables: { id: nightId } });
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
    // Only the refused field is null: the rest of the night stands.
    expect(response.data.night.tables).toBeNull();
  });

  it('refuses guests and staff of another club with FORBIDDEN', async () => {
    for (const token of [
      await app.token({ subject: 'guest-a', roles: ['guest'] }),
      await app.token({ subject: 'host-b', roles: ['host'], clubIds: [otherClubId] }),
      await app.token({ subject: 'guest-with-club', roles: ['guest'], clubIds: [clubId] }),
    ]) {
      const response = await graphql(app.url, query, { variables: { id: nightId }, token });
      expect(codes(response)).toEqual(['FORBIDDEN']);
    }
  });

  it('still answers the public part of the night when the staff part is refused', async () => {
    const response = await graphql(app.url, `query($id: ID!) { night(id: $id) { id availability { version } } }`, {
      variables: { id: nightId },
      token: await app.token({ subject: 'guest-b', roles: ['guest'] }),
    });
    expect(response.errors).toBeUndefined();
    expect(response.data.night.id).toBe(nightId);
  });
});
