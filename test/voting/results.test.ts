import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

describe('vote session results', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('counts every song of the session, zero-vote songs included, ordered by votes then title', async () => {
    const club = await fx.club();
    const [blue, alpha, zulu, silent] = await fx.songs(club.id, ['Blue', 'Alpha', 'Zulu', 'Silent']);
    await fx.songs(club.id, ['Not offered']);
    const session = await fx.voteSession(club.id, [blue!.id, alpha!.id, zulu!.id, silent!.id]);
    // 3 votes: Blue 1, Alpha 1, Zulu 1 → 33.34 / 33.33 / 33.33 after largest remainder.
    await fx.votes(session.id, blue!.id, 1);
    await fx.votes(session.id, alpha!.id, 1);
    await fx.votes(session.id, zulu!.id, 1);

    const response = await graphql(
      app.url,
      `query($id: ID!) { voteSession(id: $id) { status startedAt endedAt club { id } songs { title }
        results { totalVotes entries { votes percentage song { title } } } } }`,
      { variables: { id: session.id } },
    );
    expect(response.errors).toBeUndefined();
    const found = response.data.voteSession;
    expect(found.status).toBe('ACTIVE');
    expect(found.endedAt).toBeNull();
    expect(found.club.id).toBe(club.id);
    expect(found.songs.map((s: any) => s.title)).toEqual(['Blue', 'Alpha', 'Zulu', 'Silent']);
    expect(found.results).toEqual({
      totalVotes: 3,
      entries: [
        { votes: 1, percentage: 33.34, song: { title: 'Alpha' } },
        { votes: 1, percentage: 33.33, song: { title: 'Blue' } },
        { votes: 1, percentage: 33.33, song: { title: 'Zulu' } },
        { votes: 0, percentage: 0, song: { title: 'Silent' } },
      ],
    });
  });

  it('matches a hand-computed fixture of 7 votes', async () => {
    const club = await fx.club();
    const [a, b, c] = await fx.songs(club.id, ['A', 'B', 'C']);
    const session = await fx.voteSession(club.id, [a!.id, b!.id, c!.id]);
    await fx.votes(session.id, a!.id, 4);
    await fx.votes(session.id, b!.id, 2);
    await fx.votes(session.id, c!.id, 1);
    const response = await graphql(app.url, `query($id: ID!) { voteSession(id: $id) { results { totalVotes entries { votes percentage song { title } } } } }`, {
      variables: { id: session.id },
    });
    // 4/7 = 57.142…, 2/7 = 28.571…, 1/7 = 14.285… → 57.14 + 28.57 + 14.29 = 100.
    expect(response.data.voteSession.results).toEqual({
      totalVotes: 7,
      entries: [
        { votes: 4, percentage: 57.14, song: { title: 'A' } },
        { votes: 2, percentage: 28.57, song: { title: 'B' } },
        { votes: 1, percentage: 14.29, song: { title: 'C' } },
      ],
    });
  });

  it("shows a club's active session, and none once it has ended", async () => {
    const club = await fx.club();
    const [song] = await fx.songs(club.id, ['Only']);
    const session = await fx.voteSession(club.id, [song!.id]);
    await fx.votes(session.id, song!.id, 2);
    const query = `query($slug: String!) { club(slug: $slug) { activeVoteSession { id results { totalVotes entries { percentage } } } } }`;
    const active = await graphql(app.url, query, { variables: { slug: club.slug } });
    expect(active.data.club.activeVoteSession).toEqual({ id: session.id, results: { totalVotes: 2, entries: [{ percentage: 100 }] } });

    const manager = await app.token({ subject: `manager-of-${club.slug}`, roles: ['manager'], clubIds: [club.id] });
    const ended = await graphql(app.url, `mutation($id: ID!) { endVoteSession(id: $id) { id status endedAt } }`, {
      token: manager,
      variables: { id: session.id },
    });
    expect(ended.errors).toBeUndefined();
    expect(ended.data.endVoteSession).toMatchObject({ id: session.id, status: 'ENDED', endedAt: expect.any(String) });

    const after = await graphql(app.url, query, { variables: { slug: club.slug } });
    expect(after.errors).toBeUndefined();
    expect(after.data.club.activeVoteSession).toBeNull();
    // The ended session keeps its results.
    const kept = await graphql(app.url, `query($id: ID!) { voteSession(id: $id) { status endedAt results { totalVotes } } }`, {
      variables: { id: session.id },
    });
    expect(kept.data.voteSession).toEqual({ status: 'ENDED', endedAt: ended.data.endVoteSession.endedAt, results: { totalVotes: 2 } });
  });
});

describe("vote results of many clubs' active sessions", () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    // An app of its own, so `clubs` lists only the clubs built here.
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  const CLUBS = `query($first: Int!, $after: String) { clubs(first: $first, after: $after) {
    edges { cursor node { slug activeVoteSession { id results { totalVotes entries { votes song { title } } } } } } } }`;

  it('computes the results missing from the cache of 20 sessions with the statements of 1', async () => {
    // Club i's session offers songs `i-hit` and `i-miss`; `i-hit` has (i % 4) + 1 votes.
    const built = new Map<string, { sessionId: string; votes: number; hit: string; miss: string }>();
    for (let i = 0; i <= 20; i += 1) {
      const slug = `batch-${String(i).padStart(2, '0')}`;
      const club = await fx.club({ slug });
      const [hit, miss] = await fx.songs(club.id, [`${i}-hit`, `${i}-miss`]);
      const session = await fx.voteSession(club.id, [miss!.id, hit!.id]);
      await fx.votes(session.id, hit!.id, (i % 4) + 1);
      built.set(slug, { sessionId: session.id, votes: (i % 4) + 1, hit: hit!.title, miss: miss!.title });
    }
    const expected = (slug: string) => {
      const club = built.get(slug)!;
      return {
        slug,
        activeVoteSession: {
          id: club.sessionId,
          results: { totalVotes: club.votes, entries: [{ votes: club.votes, song: { title: club.hit } }, { votes: 0, song: { title: club.miss } }] },
        },
      };
    };

    // The first club alone, then the 20 after it: both with nothing cached for their sessions.
    const one = await graphql(app.url, CLUBS, { variables: { first: 1 } });
    expect(one.errors).toBeUndefined();
    expect(one.data.clubs.edges.map((e: any) => e.node)).toEqual(['batch-00'].map(expected));
    const twenty = await graphql(app.url, CLUBS, { variables: { first: 20, after: one.data.clubs.edges[0].cursor } });
    expect(twenty.errors).toBeUndefined();
    const slugs = Array.from({ length: 20 }, (_, i) => `batch-${String(i + 1).padStart(2, '0')}`);
    expect(twenty.data.clubs.edges.map((e: any) => e.node)).toEqual(slugs.map(expected));

    // The clubs page, their active sessions, one GROUP BY for the results: whatever the number of clubs.
    expect({ one: one.extensions?.sql?.statements, twenty: twenty.extensions?.sql?.statements }).toEqual({ one: 3, twenty: 3 });
  });
});
