import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoTokens } from '../../src/cli/demo-tokens.js';
import { graphql } from '../support/client.js';
import { startTestApp, type TestApp } from '../support/app.js';

describe('the demo, set up through the API’s own services', () => {
  let app: TestApp;
  let tokens: Awaited<ReturnType<typeof demoTokens>>;
  beforeAll(async () => {
    app = await startTestApp({ SEED_DEMO_DATA: 'true' });
    tokens = await demoTokens(app.tokens);
  });
  afterAll(() => app?.stop());

  it('has three clubs, staffed in the database: the demo manager’s token names no club and still manages', async () => {
    expect(app.seeded).toBe(true);
    const clubs = await graphql(app.url, `{ clubs { edges { node { slug staff { role user { subject } } } } } }`, { token: tokens.manager });
    expect(clubs.errors).toBeUndefined();
    expect(clubs.data.clubs.edges.map((e: any) => e.node.slug)).toEqual(['neon-basement', 'seoul-rooftop', 'vault-moscow']);
    expect(clubs.data.clubs.edges[0].node.staff).toEqual([
      { role: 'MANAGER', user: { subject: 'demo-manager' } },
      { role: 'HOST', user: { subject: 'demo-host' } },
    ]);
  });

  it('has tonight at Neon Basement with a seated, a booked and a held table, which the demo host sees', async () => {
    const club = await graphql(app.url, `{ club(slug: "neon-basement") { nights(first: 1) { edges { node { id } } } } }`);
    const nightId = club.data.club.nights.edges[0].node.id;
    const tables = await graphql(app.url, `query($id: ID!) { night(id: $id) { tables { state table { label } depositTotal { amountMinor } } } }`, {
      token: tokens.host,
      variables: { id: nightId },
    });
    expect(tables.errors).toBeUndefined();
    const states = tables.data.night.tables.filter((t: any) => t.state !== 'FREE');
    expect(states).toEqual([
      { state: 'SEATED', table: { label: 'V1' }, depositTotal: { amountMinor: 55_000 } },
      { state: 'BOOKED', table: { label: 'V2' }, depositTotal: { amountMinor: 0 } },
      { state: 'HELD', table: { label: 'V3' }, depositTotal: { amountMinor: 0 } },
    ]);
    const guest = await graphql(app.url, `{ me { bookings(when: UPCOMING) { edges { node { status } } } trackedStreamers { edges { node { handle } } } } }`, { token: tokens.guest });
    expect(guest.data.me.bookings.edges).toHaveLength(3);
    expect(guest.data.me.trackedStreamers.edges.map((e: any) => e.node.handle)).toEqual(['djkarina', 'basslinebob', 'seoulsetlist', 'vinylvera']);
  });
});
