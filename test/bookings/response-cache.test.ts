import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { watchStatements } from '../support/statements.js';

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
    const statements = watchStatements();
    try {
      const first = await graphql(app.url, READ, { variables: { id: nightId }, headers: { 'x-request-id': 'cache-miss-1' } });
      const second = await graphql(app.url, READ, { variables: { id: nightId }, headers: { 'x-request-id': 'cache-hit-1' } });
      expect(hit(first)).toBe(false);
      expect(hit(second)).toBe(true);
      expect(second.data).toEqual(first.data);
      // Counted at the driver: the miss reached the database, the hit did not.
      expect(statements.sentFor('cache-miss-1')).toBeGreaterThan(0);
      expect(statements.sentFor('cache-hit-1')).toBe(0);
    } finally {
      statements.stop();
    }
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
