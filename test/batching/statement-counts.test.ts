import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { graphql } from '../support/client.js';
import { startTestApp, type TestApp } from '../support/app.js';

// Every dashboard query costs a number of SQL statements fixed by its shape: the same
// with 1 parent as with 50. The counts come from the server's own per-request counter.

const dashboardQuery = /* GraphQL */ `
  query Dashboard {
    me {
      trackedStreamers(first: 50) {
        edges { trackedAt node { handle wishlistItemsCount wishlist(first: 5) { edges { node { title price { amountMinor } } } } } }
      }
    }
  }
`;

const clubQuery = /* GraphQL */ `
  query Club($slug: String!) {
    club(slug: $slug) {
      tables { label capacity }
      nights(first: 50) { edges { node { startsAt availability { version tables { state table { label } } } } } }
    }
  }
`;

const nightTablesQuery = /* GraphQL */ `
  query NightTables($id: ID!) {
    night(id: $id) {
      tables {
        table { label }
        state
        session { openedAt }
        latestDeposit { amount { amountMinor currency } }
        depositTotal { amountMinor currency }
      }
    }
  }
`;

const voteResultsQuery = /* GraphQL */ `
  query Results($id: ID!) {
    voteSession(id: $id) {
      results { totalVotes entries { votes percentage song { title artist } } }
    }
  }
`;

/** Builds each scenario with `parents` parents and returns what to send. */
async function dashboard(app: TestApp, fx: Fixtures, parents: number) {
  const user = await fx.user();
  const streamers = await fx.streamers(parents);
  await fx.wishlistItems(streamers.map((s) => s.id), 7);
  await fx.track(user.id, streamers.map((s) => s.id));
  return { query: dashboardQuery, variables: {}, token: await app.token({ subject: user.subject }) };
}

async function clubWithNights(app: TestApp, fx: Fixtures, parents: number) {
  const club = await fx.club();
  const tables = await fx.tables(club.id, parents);
  const nights = await fx.nights(club.id, parents);
  const guest = await fx.user();
  await fx.booking({ nightId: nights[0]!.id, tableId: tables[0]!.id, userId: guest.id });
  return { query: clubQuery, variables: { slug: club.slug }, token: undefined };
}

async function seatedNight(app: TestApp, fx: Fixtures, parents: number) {
  const club = await fx.club();
  const host = await fx.user();
  const tables = await fx.tables(club.id, parents);
  const [night] = await fx.nights(club.id, 1);
  for (const table of tables) {
    const session = await fx.tableSession({ nightId: night!.id, tableId: table.id, openedBy: host.id });
    await fx.deposits(session.id, host.id, [5_000, 2_500]);
  }
  const token = await app.token({ subject: host.subject, roles: ['host'], clubIds: [club.id] });
  return { query: nightTablesQuery, variables: { id: night!.id }, token };
}

async function votedSession(app: TestApp, fx: Fixtures, parents: number) {
  const club = await fx.club();
  const songs = await fx.songs(club.id, Array.from({ length: parents }, (_, i) => `Song ${i}`));
  const session = await fx.voteSession(club.id, songs.map((s) => s.id));
  await fx.votes(session.id, songs[0]!.id, 3);
  return { query: voteResultsQuery, variables: { id: session.id }, token: undefined };
}

const scenarios = [
  { name: 'me → tracked streamers → wishlistItemsCount + first 5 wishlist items', build: dashboard, statements: 4 },
  { name: 'club → tables + nights → availability', build: clubWithNights, statements: 4 },
  { name: 'night → tables → session + latestDeposit + depositTotal', build: seatedNight, statements: 3 },
  { name: 'voteSession → results → song', build: votedSession, statements: 2 },
] as const;

describe('statement counts with DataLoaders', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  for (const scenario of scenarios) {
    it(`sends ${scenario.statements} statements for ${scenario.name}, with 1 parent and with 50`, async () => {
      for (const parents of [1, 50]) {
        const { query, variables, token } = await scenario.build(app, fx, parents);
        const response = await graphql(app.url, query, { variables, ...(token ? { token } : {}) });
        expect(response.errors).toBeUndefined();
        expect(response.data).toBeTruthy();
        expect({ parents, statements: response.extensions?.sql?.statements }).toEqual({
          parents,
          statements: scenario.statements,
        });
      }
    });
  }

  it('returns the parents it was asked for, in order, for 50 parents', async () => {
    const { query, variables, token } = await dashboard(app, fx, 50);
    const response = await graphql(app.url, query, { variables, token });
    const edges = response.data.me.trackedStreamers.edges;
    expect(edges).toHaveLength(50);
    for (const edge of edges) {
      expect(edge.node.wishlistItemsCount).toBe(7);
      expect(edge.node.wishlist.edges.map((e: any) => e.node.title)).toEqual(['Item 0', 'Item 1', 'Item 2', 'Item 3', 'Item 4']);
    }
  });
});

describe('a fan tracking 500 streamers', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());

  it('pages through all 500 with counts and newest items at the same statement count per page', async () => {
    const fx = fixtures(app.db);
    const user = await fx.user();
    const streamers = await fx.streamers(500);
    await fx.wishlistItems(streamers.map((s) => s.id), 6);
    await fx.track(user.id, streamers.map((s) => s.id));
    const token = await app.token({ subject: user.subject });
    const seen = new Set<string>();
    let after: string | null = null;
    const statements: number[] = [];
    do {
      const response: any = await graphql(
        app.url,
        `query($after: String) { me { trackedStreamers(first: 100, after: $after) {
          edges { node { id wishlistItemsCount wishlist(first: 5) { edges { node { title } } } } }
          pageInfo { hasNextPage endCursor } } } }`,
        { token, variables: { after } },
      );
      expect(response.errors).toBeUndefined();
      const page = response.data.me.trackedStreamers;
      for (const edge of page.edges) {
        seen.add(edge.node.id);
        expect(edge.node.wishlistItemsCount).toBe(6);
        expect(edge.node.wishlist.edges).toHaveLength(5);
      }
      statements.push(response.extensions.sql.statements);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(seen.size).toBe(500);
    expect(statements).toEqual([4, 4, 4, 4, 4]);
  });
});

describe('statement counts without batching (the naive resolver set benchmarks compare with)', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp({ LOADER_BATCHING: 'false' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('grows with the number of parents, which the counter sees', async () => {
    const counts = [];
    for (const parents of [1, 50]) {
      const { query, variables, token } = await seatedNight(app, fx, parents);
      const response = await graphql(app.url, query, { variables, token });
      expect(response.errors).toBeUndefined();
      counts.push(response.extensions!.sql!.statements);
    }
    expect(counts[0]).toBe(3);
    // One deposit summary per seated table instead of one for all of them.
    expect(counts[1]).toBe(2 + 50);
  });
});
