import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

const READ = `query Availability($id: ID!) { night(id: $id) { id availability { version freeTables { label } tables { state table { label } } } } }`;
const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`;

describe('the availability response cache', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  async function night() {
    const club = await fx.club();
    const tables = await fx.tables(club.id, 4);
    const [n] = await fx.nights(club.id, 1);
    return { nightId: n!.id, tableIds: tables.map((t) => t.id) };
  }
  const read = (nightId: string) => graphql(app.url, READ, { variables: { id: nightId } });
  const hit = (response: Awaited<ReturnType<typeof read>>) => (response.extensions as any)?.responseCache === 'hit';

  it('answers a repeated read from cache, without SQL, with the same data', async () => {
    const { nightId } = await night();
    const first = await read(nightId);
    const second = await read(nightId);
    expect(hit(first)).toBe(false);
    expect(hit(second)).toBe(true);
    expect(second.data).toEqual(first.data);
    expect(second.headers.get('server-timing')).toContain('desc="0 statements"');
  });

  it('never serves a version older than a committed change', async () => {
    const { nightId, tableIds } = await night();
    const token = await app.token({ subject: 'cache-guest' });
    await read(nightId);
    for (const [i, tableId] of tableIds.entries()) {
      await graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId, partySize: 2, idempotencyKey: `c${i}` } } });
      const after = await read(nightId);
      expect(after.data.night.availability.version).toBe(i + 1);
      expect(hit(after)).toBe(false);
      const again = await read(nightId);
      expect(hit(again)).toBe(true);
      expect(again.data.night.availability.version).toBe(i + 1);
    }
  });

  it('leaves other reads to GraphQL', async () => {
    const { nightId } = await night();
    const query = `query($id: ID!) { night(id: $id) { startsAt availability { version } } }`;
    await graphql(app.url, query, { variables: { id: nightId } });
    const second = await graphql(app.url, query, { variables: { id: nightId } });
    expect(hit(second)).toBe(false);
    const unknown = `query($id: ID!) { night(id: $id) { availability { version } } }`;
    await graphql(app.url, unknown, { variables: { id: '00000000-0000-4000-8000-000000000000' } });
    const missing = await graphql(app.url, unknown, { variables: { id: '00000000-0000-4000-8000-000000000000' } });
    expect(hit(missing)).toBe(false);
    expect(missing.data).toEqual({ night: null });
  });
});

describe('with the response cache off', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ RESPONSE_CACHE: 'false' });
  });
  afterAll(() => app?.stop());

  it('runs every read through GraphQL', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    await fx.tables(club.id, 2);
    const [n] = await fx.nights(club.id, 1);
    await graphql(app.url, READ, { variables: { id: n!.id } });
    const second = await graphql(app.url, READ, { variables: { id: n!.id } });
    expect((second.extensions as any)?.responseCache).toBeUndefined();
    expect(second.extensions?.sql?.statements).toBeGreaterThan(0);
  });
});
