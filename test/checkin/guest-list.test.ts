import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestEntries } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

const ADD = `mutation($input: AddGuestsInput!) { addGuests(input: $input) { id name phone token agent { code } } }`;

describe('importing a guest list', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  async function night() {
    const club = await fx.club();
    const [n] = await fx.nights(club.id, 1);
    const manager = await app.token({ subject: `list-manager-${club.id}`, roles: ['manager'], clubIds: [club.id] });
    const entries = async () => (await app.db.select({ n: count() }).from(guestEntries).where(eq(guestEntries.nightId, n!.id)))[0]!.n;
    return { club, nightId: n!.id, manager, entries };
  }

  it('adds 1,000 names in one call, in the order given, each with its own token', async () => {
    const { nightId, manager, entries } = await night();
    const guests = Array.from({ length: 1_000 }, (_, i) => ({ name: ` Guest ${i} `, phone: i % 2 ? `+49 170 ${String(i).padStart(7, '0')}` : null }));
    const response = await graphql(app.url, ADD, { token: manager, variables: { input: { nightId, guests } } });
    expect(response.errors).toBeUndefined();
    expect(response.data.addGuests.map((e: any) => e.name)).toEqual(guests.map((g) => g.name.trim()));
    expect(response.data.addGuests[1].phone).toBe('+491700000001');
    expect(new Set(response.data.addGuests.map((e: any) => e.token)).size).toBe(1_000);
    expect(await entries()).toBe(1_000);
    // One mutation: its statements do not grow with the list.
    expect(response.extensions!.sql!.statements).toBeLessThan(10);
  });

  it('refuses the whole call for one bad row, naming its index, and adds nothing', async () => {
    const { nightId, manager, entries } = await night();
    const guests = [{ name: 'Fine' }, { name: 'Also fine', phone: '12345678' }, { name: 'Bad phone', phone: 'call me' }, { name: 'Fine again' }];
    const refused = await graphql(app.url, ADD, { token: manager, variables: { input: { nightId, guests } } });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0]!.extensions).toMatchObject({ index: 2 });
    expect(refused.errors![0]!.message).toMatch(/^guests\[2\]: phone/);
    expect(codes(await graphql(app.url, ADD, { token: manager, variables: { input: { nightId, guests: [{ name: '  ' }] } } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await graphql(app.url, ADD, { token: manager, variables: { input: { nightId, guests: [] } } }))).toEqual(['BAD_USER_INPUT']);
    const tooMany = Array.from({ length: 1_001 }, (_, i) => ({ name: `G${i}` }));
    expect(codes(await graphql(app.url, ADD, { token: manager, variables: { input: { nightId, guests: tooMany } } }))).toEqual(['BAD_USER_INPUT']);
    expect(await entries()).toBe(0);
  });

  it('lets a promoter add under their own code only, and nobody else', async () => {
    const { club, nightId, manager, entries } = await night();
    const promoter = await fx.user(`promoter-${club.id}`);
    const agent = await graphql(app.url, `mutation($u: ID!, $c: ID) { createAgent(userId: $u, clubId: $c) { code } }`, { token: manager, variables: { u: promoter.id, c: club.id } });
    const code = agent.data.createAgent.code;
    const promoterToken = await app.token({ subject: promoter.subject });
    const added = await graphql(app.url, ADD, { token: promoterToken, variables: { input: { nightId, agentCode: code, guests: [{ name: 'Friend' }] } } });
    expect(added.data.addGuests).toMatchObject([{ name: 'Friend', agent: { code } }]);
    expect(codes(await graphql(app.url, ADD, { token: promoterToken, variables: { input: { nightId, guests: [{ name: 'No code' }] } } }))).toEqual(['FORBIDDEN']);
    const stranger = await app.token({ subject: 'list-stranger' });
    expect(codes(await graphql(app.url, ADD, { token: stranger, variables: { input: { nightId, agentCode: code, guests: [{ name: 'Sneaky' }] } } }))).toEqual(['FORBIDDEN']);
    expect(codes(await graphql(app.url, ADD, { variables: { input: { nightId, guests: [{ name: 'Anon' }] } } }))).toEqual(['UNAUTHENTICATED']);
    expect(await entries()).toBe(1);
  });
});
