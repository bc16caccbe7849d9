import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

// The hole, as found: a promoter of club A also books at club B; club A's host walked
// night → guests → agent → user into every booking and followed streamer of theirs.
const WALK = `query($id: ID!) { night(id: $id) { guests(first: 5) { edges { node {
  agent { user { id subject bookings(first: 10) { edges { node { id } } } trackedStreamers(first: 5) { edges { node { handle } } } webhooks { id } } } } } } } }`;

describe('what a viewer may see of a user, wherever the user is reached from', () => {
  let app: TestApp;
  let fx: Fixtures;
  let nightA: string;
  let bookingA: string;
  let bookingB: string;
  let promoterSubject: string;
  let hostA: string;
  let hostB: string;
  let clubAId: string;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
    const clubA = await fx.club();
    const clubB = await fx.club();
    clubAId = clubA.id;
    const [a] = await fx.nights(clubA.id, 1);
    const [b] = await fx.nights(clubB.id, 1);
    nightA = a!.id;
    const [tableA] = await fx.tables(clubA.id, 1);
    const [tableB] = await fx.tables(clubB.id, 1);
    const promoter = await fx.user();
    promoterSubject = promoter.subject;
    const managerA = await app.token({ subject: 'vis-manager-a', roles: ['manager'], clubIds: [clubA.id] });
    const agent = await graphql(app.url, `mutation($u: ID!, $c: ID) { createAgent(userId: $u, clubId: $c) { code } }`, { token: managerA, variables: { u: promoter.id, c: clubA.id } });
    await graphql(app.url, `mutation($n: ID!, $code: String!) { addGuest(input: { nightId: $n, name: "Friend", agentCode: $code }) { id } }`, { token: managerA, variables: { n: nightA, code: agent.data.createAgent.code } });
    bookingA = (await fx.booking({ nightId: a!.id, tableId: tableA!.id, userId: promoter.id })).id;
    bookingB = (await fx.booking({ nightId: b!.id, tableId: tableB!.id, userId: promoter.id })).id;
    const [streamer] = await fx.streamers(1);
    await fx.track(promoter.id, [streamer!.id]);
    hostA = await app.token({ subject: 'vis-host-a', roles: ['host'], clubIds: [clubA.id] });
    hostB = await app.token({ subject: 'vis-host-b', roles: ['host'], clubIds: [clubB.id] });
  });
  afterAll(() => app?.stop());

  const userOf = (response: any) => response.data.night.guests.edges[0].node.agent.user;
  const errorPaths = (response: any) => (response.errors ?? []).map((e: any) => [e.path.slice(-1)[0], e.extensions.code]);

  it('shows club A’s host the promoter’s subject and bookings at club A only, never their streamers or webhooks', async () => {
    const response = await graphql(app.url, WALK, { token: hostA, variables: { id: nightA } });
    const user = userOf(response);
    expect(user.subject).toBe(promoterSubject);
    expect(user.bookings.edges.map((e: any) => e.node.id)).toEqual([bookingA]);
    expect(user.bookings.edges.map((e: any) => e.node.id)).not.toContain(bookingB);
    expect(user.trackedStreamers).toBeNull();
    expect(user.webhooks).toBeNull();
    expect(errorPaths(response).sort()).toEqual([['trackedStreamers', 'FORBIDDEN'], ['webhooks', 'FORBIDDEN']]);
  });

  it('shows the user everything of their own, from `me`', async () => {
    const token = await app.token({ subject: promoterSubject });
    const response = await graphql(app.url, `{ me { subject bookings { edges { node { id } } } trackedStreamers { edges { node { id } } } webhooks { id } } }`, { token });
    expect(response.errors).toBeUndefined();
    expect(response.data.me.bookings.edges.map((e: any) => e.node.id).sort()).toEqual([bookingA, bookingB].sort());
    expect(response.data.me.trackedStreamers.edges).toHaveLength(1);
  });

  it('shows an admin everything of a user reached through a nested path', async () => {
    const admin = await app.token({ subject: 'vis-admin', roles: ['admin'] });
    const response = await graphql(app.url, WALK, { token: admin, variables: { id: nightA } });
    expect(response.errors).toBeUndefined();
    expect(userOf(response).bookings.edges).toHaveLength(2);
  });

  it('shows staff of a club the user never visited only the public profile', async () => {
    // Club B's host reaches the same user through club B's booking.
    const query = `query($id: ID!) { booking(id: $id) { guest { id subject bookings { edges { node { id } } } trackedStreamers { edges { node { id } } } } } }`;
    const fromB = await graphql(app.url, query, { token: hostB, variables: { id: bookingB } });
    expect(fromB.data.booking.guest.subject).toBe(promoterSubject);
    expect(fromB.data.booking.guest.bookings.edges.map((e: any) => e.node.id)).toEqual([bookingB]);
    // A host of a third club reaching the user some other way would see no subject: here, a club A manager removed.
    const stranger = await app.token({ subject: 'vis-stranger', roles: ['host'], clubIds: [crypto.randomUUID()] });
    const refused = await graphql(app.url, WALK, { token: stranger, variables: { id: nightA } });
    expect(codes(refused)).toContain('FORBIDDEN');
    expect(refused.data?.night?.guests ?? null).toBeNull();
    void clubAId;
  });
});
