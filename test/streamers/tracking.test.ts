import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, graphql } from '../support/client.js';
import { startTestApp, type TestApp } from '../support/app.js';

const ADD = `mutation($input: AddStreamerInput!) { addStreamer(input: $input) { id platform handle displayName } }`;
const TRACK = `mutation($id: ID!) { trackStreamer(streamerId: $id) { id } }`;
const UNTRACK = `mutation($id: ID!) { untrackStreamer(streamerId: $id) { id } }`;
const TRACKED = `{ me { trackedStreamers { edges { node { handle } } } } }`;

describe('streamers and tracking', () => {
  let app: TestApp;
  let admin: string;
  let fan: string;
  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.token({ subject: 'streamer-admin', roles: ['admin'] });
    fan = await app.token({ subject: 'fan' });
  });
  afterAll(() => app?.stop());

  const add = (input: Record<string, unknown>, token = admin) => graphql(app.url, ADD, { token, variables: { input } });

  it('lets admins add streamers, once per platform handle in any case, with valid input only', async () => {
    const added = await add({ platform: 'Twitch', handle: 'NightOwl', displayName: 'Night Owl', wishlistUrl: 'https://wishlist.example/nightowl' });
    expect(added.data.addStreamer).toMatchObject({ platform: 'twitch', handle: 'NightOwl', displayName: 'Night Owl' });
    expect(codes(await add({ platform: 'twitch', handle: 'nightowl', displayName: 'Copy' }))).toEqual(['CONFLICT']);
    expect(codes(await add({ platform: 'twitch', handle: 'x', displayName: 'X' }, fan))).toEqual(['FORBIDDEN']);
    for (const bad of [
      { platform: 'no spaces', handle: 'a', displayName: 'A' },
      { platform: 'twitch', handle: '', displayName: 'A' },
      { platform: 'twitch', handle: 'a', displayName: 'A', wishlistUrl: 'ftp://x' },
    ]) {
      expect(codes(await add(bad))).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('tracks and untracks idempotently', async () => {
    const streamer = (await add({ platform: 'kick', handle: 'techno', displayName: 'Techno' })).data.addStreamer;
    await graphql(app.url, TRACK, { token: fan, variables: { id: streamer.id } });
    await graphql(app.url, TRACK, { token: fan, variables: { id: streamer.id } });
    const tracked = await graphql(app.url, TRACKED, { token: fan });
    expect(tracked.data.me.trackedStreamers.edges.filter((e: any) => e.node.handle === 'techno')).toHaveLength(1);
    await graphql(app.url, UNTRACK, { token: fan, variables: { id: streamer.id } });
    const again = await graphql(app.url, UNTRACK, { token: fan, variables: { id: streamer.id } });
    expect(again.errors).toBeUndefined();
    const after = await graphql(app.url, TRACKED, { token: fan });
    expect(after.data.me.trackedStreamers.edges.map((e: any) => e.node.handle)).not.toContain('techno');
    expect(codes(await graphql(app.url, TRACK, { token: fan, variables: { id: '00000000-0000-4000-8000-000000000000' } }))).toEqual(['NOT_FOUND']);
    expect(codes(await graphql(app.url, TRACK, { variables: { id: streamer.id } }))).toEqual(['UNAUTHENTICATED']);
  });

  it('finds streamers by part of the name or handle, in name order with keyset pages', async () => {
    for (const [handle, displayName] of [['djkarina', 'DJ Karina'], ['basslinebob', 'bassline Bob'], ['vinylvera', 'Vinyl Vera'], ['kari_fan', 'Some Fan']]) {
      await add({ platform: 'search', handle, displayName });
    }
    const search = async (s: string | null, first = 10, after: string | null = null) =>
      (await graphql(app.url, `query($s: String, $f: Int, $a: String) { streamers(search: $s, first: $f, after: $a) { edges { node { displayName } } pageInfo { hasNextPage endCursor } } }`, {
        variables: { s, f: first, a: after },
      })).data.streamers;
    const names = (page: any) => page.edges.map((e: any) => e.node.displayName);
    expect(names(await search('KARI'))).toEqual(['DJ Karina', 'Some Fan']);
    expect(names(await search('_'))).toEqual(['Some Fan']);
    const first = await search('b', 1);
    expect(names(first)).toEqual(['bassline Bob']);
    expect(first.pageInfo.hasNextPage).toBe(false);
    const page1 = await search(null, 2);
    const page2 = await search(null, 2, page1.pageInfo.endCursor);
    expect([...names(page1), ...names(page2)]).toEqual(['bassline Bob', 'DJ Karina', 'Night Owl', 'Some Fan']);
  });
});
