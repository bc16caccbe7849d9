import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { voteSessions } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { Redis } from 'ioredis';
import { realRedis, realServers, startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';

const CREATE_SONG = `mutation($input: CreateSongInput!) { createSong(input: $input) { id title artist } }`;
const START = `mutation($input: StartVoteSessionInput!) { startVoteSession(input: $input) { id status songs { title } } }`;
const END = `mutation($id: ID!) { endVoteSession(id: $id) { id status endedAt } }`;
const VOTE = `mutation($input: CastVoteInput!) { castVote(input: $input) { id song { title } session { id } } }`;
const RESULTS = `query($id: ID!) { voteSession(id: $id) { status results { version totalVotes entries { votes percentage song { title } } } } }`;

// Long enough for a burst of 20 votes and a second subscription to land within one interval.
const PUSH_INTERVAL_MS = 3_000;

describe('vote sessions and votes', () => {
  let app: TestApp;
  let fx: Fixtures;
  let clubId: string;
  let manager: string;
  let songIds: string[];
  beforeAll(async () => {
    app = await startTestApp({ VOTE_PUSH_INTERVAL_MS: String(PUSH_INTERVAL_MS) });
    fx = fixtures(app.db);
    clubId = (await fx.club()).id;
    manager = await app.token({ subject: 'dj', roles: ['manager'], clubIds: [clubId] });
    songIds = [];
    for (const title of ['Strobe', 'Xtal', 'Da Funk']) {
      const response = await graphql(app.url, CREATE_SONG, { token: manager, variables: { input: { clubId, title, artist: 'Someone' } } });
      songIds.push(response.data.createSong.id);
    }
  });
  afterAll(() => app?.stop());

  const start = (ids = songIds, token = manager) => graphql(app.url, START, { token, variables: { input: { clubId, songIds: ids } } });
  const vote = (sessionId: string, songId: string, token: string) => graphql(app.url, VOTE, { token, variables: { input: { sessionId, songId } } });
  const results = async (id: string) => (await graphql(app.url, RESULTS, { variables: { id } })).data.voteSession;

  it('lets only a manager add songs, once per title and artist', async () => {
    const guest = await app.token({ subject: 'fan' });
    expect(codes(await graphql(app.url, CREATE_SONG, { token: guest, variables: { input: { clubId, title: 'X', artist: 'Y' } } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, CREATE_SONG, { token: manager, variables: { input: { clubId, title: 'Strobe', artist: 'Someone' } } }))).toEqual(['CONFLICT']);
  });

  it('starts a session with its own song list and ends the one before it', async () => {
    const first = (await start()).data.startVoteSession;
    expect(first).toMatchObject({ status: 'ACTIVE', songs: [{ title: 'Strobe' }, { title: 'Xtal' }, { title: 'Da Funk' }] });
    const second = (await start([songIds[2]!, songIds[0]!])).data.startVoteSession;
    expect(second.songs.map((s: any) => s.title)).toEqual(['Da Funk', 'Strobe']);
    expect((await results(first.id)).status).toBe('ENDED');
    const club = await graphql(app.url, `query($id: ID!) { voteSession(id: $id) { club { activeVoteSession { id } } } }`, { variables: { id: first.id } });
    expect(club.data.voteSession.club.activeVoteSession.id).toBe(second.id);
  });

  it('leaves the active session untouched when starting a new one fails after ending it', async () => {
    const active = (await start()).data.startVoteSession;
    const strangerSong = (await fx.songs((await fx.club()).id, ['Elsewhere']))[0]!.id;
    const failed = await start([songIds[0]!, strangerSong]);
    expect(codes(failed)).toEqual(['BAD_USER_INPUT']);
    const rows = await app.db.select().from(voteSessions).where(eq(voteSessions.clubId, clubId));
    expect(rows.filter((r) => r.status === 'active').map((r) => r.id)).toEqual([active.id]);
    expect(rows.find((r) => r.id === active.id)!.endedAt).toBeNull();
    expect(codes(await start([songIds[0]!, songIds[0]!]))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await start([]))).toEqual(['BAD_USER_INPUT']);
  });

  it('counts one vote per user, moves it on a second vote, and shows it to the next reader', async () => {
    const session = (await start()).data.startVoteSession;
    const alice = await app.token({ subject: 'alice' });
    const bob = await app.token({ subject: 'bob' });
    expect((await vote(session.id, songIds[0]!, alice)).errors).toBeUndefined();
    let seen = await results(session.id);
    expect(seen.results.totalVotes).toBe(1);
    const v1 = seen.results.version;
    await vote(session.id, songIds[1]!, bob);
    await vote(session.id, songIds[1]!, alice);
    seen = await results(session.id);
    expect(seen.results.version).toBeGreaterThan(v1);
    expect(seen.results).toMatchObject({
      totalVotes: 2,
      entries: [
        { votes: 2, percentage: 100, song: { title: 'Xtal' } },
        { votes: 0, percentage: 0, song: { title: 'Da Funk' } },
        { votes: 0, percentage: 0, song: { title: 'Strobe' } },
      ],
    });
  });

  it('refuses votes in an ended session, for a song not on offer, and from nobody, changing nothing', async () => {
    const session = (await start([songIds[0]!])).data.startVoteSession;
    const carol = await app.token({ subject: 'carol' });
    expect(codes(await vote(session.id, songIds[1]!, carol))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, VOTE, { variables: { input: { sessionId: session.id, songId: songIds[0] } } }))).toEqual(['UNAUTHENTICATED']);
    const ended = await graphql(app.url, END, { token: manager, variables: { id: session.id } });
    expect(ended.data.endVoteSession.status).toBe('ENDED');
    expect(codes(await vote(session.id, songIds[0]!, carol))).toEqual(['CONFLICT']);
    expect(codes(await vote('00000000-0000-4000-8000-000000000000', songIds[0]!, carol))).toEqual(['NOT_FOUND']);
    expect((await results(session.id)).results.totalVotes).toBe(0);
  });

  it('pushes new results to subscribers, at most one per interval, ending at the final count', async () => {
    const session = (await start()).data.startVoteSession;
    const live = await subscribe(app.url, `subscription($id: ID!) { voteResultsChanged(sessionId: $id) { version totalVotes } }`, { id: session.id });
    const pushed = () => live.results.map((r) => r.data!.voteResultsChanged as { version: number; totalVotes: number });
    try {
      // The first snapshot comes at once and starts the interval.
      await live.until((r) => r.length === 1);
      expect(pushed().map((p) => p.totalVotes)).toEqual([0]);
      const voters = await Promise.all(Array.from({ length: 20 }, (_, i) => app.token({ subject: `burst-${i}` })));
      const cast = await Promise.all(voters.map((token, k) => vote(session.id, songIds[k % 3]!, token)));
      expect(cast.flatMap((r) => r.errors ?? [])).toEqual([]);
      // Every reader now sees the 20 votes, but within its interval the subscriber has been
      // pushed none of the 20 changes…
      const read = (await results(session.id)).results;
      expect(read.totalVotes).toBe(20);
      expect(pushed().map((p) => p.totalVotes)).toEqual([0]);
      // …and at the end of the interval one push: the newest results.
      await live.until((r) => r.at(-1)?.data?.voteResultsChanged.totalVotes === 20, PUSH_INTERVAL_MS + 5_000);
      expect(pushed().map((p) => p.totalVotes)).toEqual([0, 20]);
      expect(pushed()[1]!.version).toBeGreaterThanOrEqual(read.version);
    } finally {
      await live.close();
    }
  });
});

describe.skipIf(!realRedis)('results versions when Redis loses them (needs real Redis: keys to lose)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());

  it('keeps versions growing after the shared store forgets the session', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const songs = await fx.songs(club.id, ['A', 'B']);
    const session = await fx.voteSession(club.id, songs.map((s) => s.id));
    const cast = async (subject: string) =>
      graphql(app.url, VOTE, { token: await app.token({ subject }), variables: { input: { sessionId: session.id, songId: songs[0]!.id } } });
    await cast('before-1');
    await cast('before-2');
    const before = (await graphql(app.url, RESULTS, { variables: { id: session.id } })).data.voteSession.results;
    const redis = new Redis(app.config.redis!.url);
    await redis.del(`${app.config.redis!.keyPrefix}vote-results:${session.id}`, `${app.config.redis!.keyPrefix}vote-results-version:${session.id}`);
    redis.disconnect();
    await cast('after-1');
    const after = (await graphql(app.url, RESULTS, { variables: { id: session.id } })).data.voteSession.results;
    expect(after.totalVotes).toBe(3);
    expect(after.version).toBeGreaterThan(before.version);
  });
});

describe.skipIf(!realServers)('concurrent votes (needs real PostgreSQL: PGlite runs one transaction at a time, so nothing can race)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ DB_POOL_MAX: '20' });
  });
  afterAll(() => app?.stop());

  it('counts 500 votes from 500 users at once as 500, and one user voting 20 times at once as 1', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const songs = await fx.songs(club.id, ['A', 'B', 'C']);
    const session = await fx.voteSession(club.id, songs.map((s) => s.id));
    const tokens = await Promise.all(Array.from({ length: 500 }, (_, i) => app.token({ subject: `crowd-${i}` })));
    const responses = await Promise.all(tokens.map((token, i) => graphql(app.url, VOTE, { token, variables: { input: { sessionId: session.id, songId: songs[i % 3]!.id } } })));
    expect(responses.flatMap((r) => r.errors ?? [])).toEqual([]);
    const after = await graphql(app.url, RESULTS, { variables: { id: session.id } });
    expect(after.data.voteSession.results.totalVotes).toBe(500);
    expect(after.data.voteSession.results.entries.map((e: any) => e.votes).sort()).toEqual([166, 167, 167]);

    const eager = await app.token({ subject: 'eager' });
    const repeated = await Promise.all(Array.from({ length: 20 }, (_, i) => graphql(app.url, VOTE, { token: eager, variables: { input: { sessionId: session.id, songId: songs[i % 3]!.id } } })));
    expect(repeated.flatMap((r) => r.errors ?? [])).toEqual([]);
    const final = await graphql(app.url, RESULTS, { variables: { id: session.id } });
    expect(final.data.voteSession.results.totalVotes).toBe(501);
  });
});
