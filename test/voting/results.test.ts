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
    const query = `query($slug: String!) { club(slug: $slug) { activeVoteSession { id results { totalVotes entries { percentage } } } } }`;
    const active = await graphql(app.url, query, { variables: { slug: club.slug } });
    expect(active.data.club.activeVoteSession).toEqual({ id: session.id, results: { totalVotes: 0, entries: [{ percentage: 0 }] } });
  });
});
