import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { voteSessions } from '../../src/db/schema.js';
import { createVoteResultsStore } from '../../src/modules/voting/results-store.js';
import { createMemoryPubSub } from '../../src/platform/pubsub.js';
import { countSqlIn, newSqlStats } from '../../src/platform/sql-stats.js';
import { createMemoryVersionedStore } from '../../src/platform/versioned-store.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { codes, graphql } from '../support/client.js';
import { startTestApp, type TestApp } from '../support/app.js';

// Every dashboard query costs a number of SQL statements fixed by its shape: the same
// with 1 parent as with 50. The counts come from the server's own per-request counter.

const dashboardQuery = /* GraphQL */ `
  query Dashboard {
    me {
      trackedStreamers(first: 50) {
        edges { trackedAt node { handle wishlistItemsCount wishlist(first: 5) { edges { node { id title price { amountMinor } } } } } }
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

const iso = (time: string | Date) => new Date(time).toISOString();

/*
 * Each scenario builds `parents` parents whose children differ from parent to parent
 * (counts, amounts, which table is booked), so a loader that answers in the wrong key
 * order, or drops a parent's rows, returns data `expected` does not match.
 */

/** Streamer i has 3 + (i % 6) wishlist items and was tracked i minutes ago. */
async function dashboard(app: TestApp, fx: Fixtures, parents: number) {
  const user = await fx.user();
  const streamers = await fx.streamers(parents);
  const itemCount = (i: number) => 3 + (i % 6);
  const items: Awaited<ReturnType<Fixtures['wishlistItems']>>[number][] = [];
  for (const count of new Set(streamers.map((_, i) => itemCount(i)))) {
    items.push(...(await fx.wishlistItems(streamers.filter((_, i) => itemCount(i) === count).map((s) => s.id), count)));
  }
  const now = Date.now();
  await fx.track(user.id, streamers.map((s) => s.id), now);
  const expected = {
    me: {
      trackedStreamers: {
        edges: streamers.map((streamer, i) => ({
          trackedAt: iso(new Date(now - i * 60_000)),
          node: {
            handle: streamer.handle,
            wishlistItemsCount: itemCount(i),
            // Item 0 is the newest.
            wishlist: {
              edges: items
                .filter((item) => item.streamerId === streamer.id)
                .sort((x, y) => y.firstSeenAt.getTime() - x.firstSeenAt.getTime())
                .slice(0, 5)
                .map((item) => ({ node: { id: item.id, title: item.title, price: { amountMinor: item.priceMinor } } })),
            },
          },
        })),
      },
    },
  };
  const answered = (data: any) => {
    for (const edge of data.me.trackedStreamers.edges) edge.trackedAt = iso(edge.trackedAt);
    return data;
  };
  return { query: dashboardQuery, variables: {}, token: await app.token({ subject: user.subject }), expected, answered };
}

/** Table i is booked on night i and free on every other night. */
async function clubWithNights(app: TestApp, fx: Fixtures, parents: number) {
  const club = await fx.club();
  const tables = await fx.tables(club.id, parents);
  const nights = await fx.nights(club.id, parents);
  const guest = await fx.user();
  for (const [i, night] of nights.entries()) await fx.booking({ nightId: night.id, tableId: tables[i]!.id, userId: guest.id });
  const expected = {
    club: {
      tables: tables.map((t) => ({ label: t.label, capacity: t.capacity })),
      nights: {
        edges: nights.map((night, i) => ({
          node: {
            startsAt: iso(night.startsAt),
            availability: {
              version: expect.any(Number),
              tables: tables.map((t, k) => ({ state: k === i ? 'BOOKED' : 'FREE', table: { label: t.label } })),
            },
          },
        })),
      },
    },
  };
  const answered = (data: any) => {
    for (const edge of data.club.nights.edges) edge.node.startsAt = iso(edge.node.startsAt);
    return data;
  };
  return { query: clubQuery, variables: { slug: club.slug }, token: undefined, expected, answered };
}

/** The party at table i paid 1,000 × (i + 1), then 100 + i (the latest). */
async function seatedNight(app: TestApp, fx: Fixtures, parents: number) {
  const club = await fx.club();
  const host = await fx.user();
  const tables = await fx.tables(club.id, parents);
  const [night] = await fx.nights(club.id, 1);
  const sessions: Awaited<ReturnType<Fixtures['tableSession']>>[] = [];
  for (const [i, table] of tables.entries()) {
    const session = await fx.tableSession({ nightId: night!.id, tableId: table.id, openedBy: host.id });
    await fx.deposits(session.id, host.id, [1_000 * (i + 1), 100 + i]);
    sessions.push(session);
  }
  const token = await app.token({ subject: host.subject, roles: ['host'], clubIds: [club.id] });
  const expected = {
    night: {
      tables: tables.map((table, i) => ({
        table: { label: table.label },
        state: 'SEATED',
        session: { openedAt: iso(sessions[i]!.openedAt) },
        latestDeposit: { amount: { amountMinor: 100 + i, currency: 'EUR' } },
        depositTotal: { amountMinor: 1_000 * (i + 1) + 100 + i, currency: 'EUR' },
      })),
    },
  };
  const answered = (data: any) => {
    for (const row of data.night.tables) if (row.session) row.session.openedAt = iso(row.session.openedAt);
    return data;
  };
  return { query: nightTablesQuery, variables: { id: night!.id }, token, expected, answered };
}

/** Song i has 1 + (i % 3) votes; results list the songs by votes, then title. */
async function votedSession(app: TestApp, fx: Fixtures, parents: number) {
  const club = await fx.club();
  const songs = await fx.songs(club.id, Array.from({ length: parents }, (_, i) => `Song ${i}`));
  const session = await fx.voteSession(club.id, songs.map((s) => s.id));
  const votesFor = (i: number) => 1 + (i % 3);
  for (const [i, song] of songs.entries()) await fx.votes(session.id, song.id, votesFor(i));
  const total = songs.reduce((sum, _, i) => sum + votesFor(i), 0);
  const entries = songs
    .map((song, i) => ({ votes: votesFor(i), song: { title: song.title, artist: song.artist } }))
    .sort((x, y) => y.votes - x.votes || x.song.title.localeCompare(y.song.title));
  const expected = { voteSession: { results: { totalVotes: total, entries } } };
  const answered = (data: any) => {
    const shares: number[] = [];
    // Each share within a hundredth of a percent of its exact value, and together 100.
    for (const entry of data.voteSession.results.entries) {
      expect(Math.abs(entry.percentage - (100 * entry.votes) / total)).toBeLessThanOrEqual(0.01);
      shares.push(entry.percentage);
      delete entry.percentage;
    }
    expect(shares.reduce((sum, p) => sum + p, 0)).toBeCloseTo(100, 6);
    return data;
  };
  return { query: voteResultsQuery, variables: { id: session.id }, token: undefined, expected, answered };
}

const scenarios = [
  { name: 'me → tracked streamers → wishlistItemsCount + first 5 wishlist items', build: dashboard, statements: 4 },
  { name: 'club → tables + nights → availability', build: clubWithNights, statements: 4 },
  // One of them: the caller's staff memberships, which decide who sees a night's tables.
  { name: 'night → tables → session + latestDeposit + depositTotal', build: seatedNight, statements: 4 },
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
    it(`sends ${scenario.statements} statements for ${scenario.name}, with 1 parent and with 50, each parent getting its own data`, async () => {
      for (const parents of [1, 50]) {
        const { query, variables, token, expected, answered } = await scenario.build(app, fx, parents);
        const response = await graphql(app.url, query, { variables, ...(token ? { token } : {}) });
        expect(response.errors).toBeUndefined();
        expect({ parents, data: answered(response.data) }).toEqual({ parents, data: expected });
        expect({ parents, statements: response.extensions?.sql?.statements }).toEqual({
          parents,
          statements: scenario.statements,
        });
      }
    });
  }
});

describe('what a request is charged: every statement sent while serving it, transactions included', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  /** Statements sent by `work`, counted as a request's are. */
  const statementsOf = async (work: () => Promise<unknown>) => {
    const stats = newSqlStats();
    await countSqlIn(stats, work);
    return stats.statements;
  };
  const select1 = (db: { execute: TestApp['db']['execute'] }) => db.execute(sql`select 1`);

  it('counts BEGIN and COMMIT around the statements of a transaction, and ROLLBACK when it fails', async () => {
    const committed = await statementsOf(() =>
      app.db.transaction(async (tx) => {
        await select1(tx);
        await select1(tx);
      }),
    );
    // BEGIN, two selects, COMMIT.
    expect({ kind: app.dbKind, committed }).toEqual({ kind: app.dbKind, committed: 4 });
    const rolledBack = await statementsOf(() =>
      app.db
        .transaction(async (tx) => {
          await select1(tx);
          tx.rollback();
        })
        .catch(() => {}),
    );
    // BEGIN, the select, ROLLBACK.
    expect({ kind: app.dbKind, rolledBack }).toEqual({ kind: app.dbKind, rolledBack: 3 });
  });

  it("counts a savepoint's own statements as each driver sends them", async () => {
    const nested = await statementsOf(() =>
      app.db.transaction((tx) =>
        tx.transaction(async (sp) => {
          await select1(sp);
        }),
      ),
    );
    // BEGIN, SAVEPOINT, select, RELEASE SAVEPOINT, COMMIT — but postgres.js sends no
    // RELEASE (COMMIT releases the savepoint), Drizzle on PGlite does.
    expect({ kind: app.dbKind, nested }).toEqual({ kind: app.dbKind, nested: app.dbKind === 'postgres' ? 4 : 5 });
    const undone = await statementsOf(() =>
      app.db.transaction(async (tx) => {
        await tx
          .transaction(async (sp) => {
            await select1(sp);
            sp.rollback();
          })
          .catch(() => {});
      }),
    );
    // BEGIN, SAVEPOINT, select, ROLLBACK TO SAVEPOINT, COMMIT.
    expect({ kind: app.dbKind, undone }).toEqual({ kind: app.dbKind, undone: 5 });
  });

  it('reports a vote\'s BEGIN and COMMIT, or its ROLLBACK, in extensions.sql', async () => {
    const club = await fx.club();
    const [song] = await fx.songs(club.id, ['Counted']);
    const session = await fx.voteSession(club.id, [song!.id]);
    const voter = await fx.user();
    const token = await app.token({ subject: voter.subject });
    const vote = (sessionId: string) =>
      graphql(app.url, `mutation($input: CastVoteInput!) { castVote(input: $input) { id } }`, { token, variables: { input: { sessionId, songId: song!.id } } });

    const cast = await vote(session.id);
    expect(cast.errors).toBeUndefined();
    // The caller's user row; BEGIN, the session (for share), the song on offer, the vote,
    // COMMIT; the results version the vote claims. Not the results recomputed after the answer.
    expect(cast.extensions?.sql?.statements).toBe(1 + (1 + 3 + 1) + 1);

    await app.db.update(voteSessions).set({ status: 'ended', endedAt: new Date() }).where(eq(voteSessions.id, session.id));
    const refused = await vote(session.id);
    expect(codes(refused)).toEqual(['CONFLICT']);
    // The user row; BEGIN, the session, ROLLBACK.
    expect(refused.extensions?.sql?.statements).toBe(1 + (1 + 1 + 1));
  });

  it('charges no request for the results recomputed and announced after a vote committed', async () => {
    const club = await fx.club();
    const [song] = await fx.songs(club.id, ['Detached']);
    const session = await fx.voteSession(club.id, [song!.id]);
    const pubsub = createMemoryPubSub();
    const errors: unknown[] = [];
    const results = createVoteResultsStore(app.db, createMemoryVersionedStore(), pubsub, (error) => errors.push(error));
    const announced = new Promise<string>((resolve) => void pubsub.subscribe(`vote-results:${session.id}`, resolve));
    // The request stays open until the detached work announced its results: only the
    // version it claimed before answering is its own.
    const statements = await statementsOf(async () => {
      await results.committed(session.id);
      await announced;
    });
    expect({ statements, errors }).toEqual({ statements: 1, errors: [] });
  });

  it('charges a computation two requests share once, to the request that started it', async () => {
    const club = await fx.club();
    const [song] = await fx.songs(club.id, ['Shared']);
    const session = await fx.voteSession(club.id, [song!.id]);
    const results = createVoteResultsStore(app.db, createMemoryVersionedStore(), createMemoryPubSub(), () => {});
    const [first, second] = [newSqlStats(), newSqlStats()];
    // Both miss the cache; the second asks while the first one's GROUP BY runs.
    const loads = [countSqlIn(first, () => results.load([session.id])), countSqlIn(second, () => results.load([session.id]))];
    const [a, b] = await Promise.all(loads);
    expect(b).toEqual(a);
    expect({ first: first.statements, second: second.statements }).toEqual({ first: 1, second: 0 });
  });

  it('charges nothing once the answer is ready, whatever the request left running', async () => {
    let answered!: () => void;
    const afterTheAnswer = new Promise<void>((resolve) => (answered = resolve));
    let late: Promise<unknown> | undefined;
    const stats = newSqlStats();
    await countSqlIn(stats, async () => {
      // Started while serving, in the request's async context; sends once the answer is ready.
      late = afterTheAnswer.then(() => select1(app.db));
      await select1(app.db);
    });
    answered();
    await late;
    expect(stats.statements).toBe(1);
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
    expect(counts[0]).toBe(4);
    // One deposit summary per seated table instead of one for all of them.
    expect(counts[1]).toBe(3 + 50);
  });
});
