import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { realRedis, startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';
import { watchStatements } from '../support/statements.js';

const LIMITS = { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_QUERIES_PER_MINUTE: '5', RATE_LIMIT_MUTATIONS_PER_MINUTE: '2' };
const QUERY = `{ clubs { pageInfo { hasNextPage } } }`;

const persisted = (query: string) => ({ persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } });
const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);

describe('automatic persisted queries', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());

  it('answers a known hash without the query text, and asks for the text of an unknown one', async () => {
    const query = `{ clubs { pageInfo { hasNextPage } } }`;
    expect((await post(app.url, { extensions: persisted(query) })).errors[0]).toMatchObject({ message: 'PersistedQueryNotFound' });
    expect((await post(app.url, { query, extensions: persisted(query) })).errors).toBeUndefined();
    expect(await post(app.url, { extensions: persisted(query) })).toMatchObject({ data: { clubs: { pageInfo: { hasNextPage: false } } } });
    const mismatched = await post(app.url, { query: '{ __typename }', extensions: persisted(query) });
    expect(mismatched.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});

describe('rate limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(LIMITS);
  });
  afterAll(() => app?.stop());

  it('gives each signed-in user a query budget; over it, RATE_LIMITED with retryAfter, 429 and Retry-After', async () => {
    const token = await app.token({ subject: 'busy-reader' });
    for (let i = 0; i < 5; i++) expect((await graphql(app.url, QUERY, { token })).errors).toBeUndefined();
    const refused = await graphql(app.url, QUERY, { token });
    expect(refused.status).toBe(429);
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    const retryAfter = refused.errors![0]!.extensions!.retryAfter as number;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('retry-after')).toBe(String(retryAfter));
    expect(refused.errors![0]!.extensions).not.toHaveProperty('http');
    // Another user's budget is untouched.
    expect((await graphql(app.url, QUERY, { token: await app.token({ subject: 'calm-reader' }) })).errors).toBeUndefined();
  });

  it('keeps mutations on a budget of their own, and refuses the one over it without running it', async () => {
    const [streamer] = await fixtures(app.db).streamers(1);
    const token = await app.token({ subject: 'busy-writer' });
    const track = `mutation($id: ID!) { trackStreamer(streamerId: $id) { id } }`;
    for (let i = 0; i < 2; i++) expect((await graphql(app.url, track, { token, variables: { id: streamer!.id } })).errors).toBeUndefined();
    const statements = watchStatements();
    const refused = await graphql(app.url, track, { token, variables: { id: streamer!.id }, headers: { 'x-request-id': 'over-budget-1' } }).finally(() => statements.stop());
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.extensions?.sql?.statements).toBe(0);
    expect(statements.sentFor('over-budget-1')).toBe(0);
    // Queries still pass: a separate budget.
    expect((await graphql(app.url, QUERY, { token })).errors).toBeUndefined();
  });

  it('charges anonymous callers by address, cached answers included', async () => {
    const club = await fixtures(app.db).club();
    const [night] = await fixtures(app.db).nights(club.id, 1);
    const availability = `query($id: ID!) { night(id: $id) { availability { version } } }`;
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await graphql(app.url, availability, { variables: { id: night!.id } }));
    expect(answers.slice(0, 5).every((a) => a.errors === undefined)).toBe(true);
    expect(answers.slice(5).map((a) => [a.status, ...codes(a)])).toEqual([
      [429, 'RATE_LIMITED'],
      [429, 'RATE_LIMITED'],
    ]);
  });

  it('counts subscriptions against the query budget', async () => {
    const token = await app.token({ subject: 'busy-watcher' });
    for (let i = 0; i < 5; i++) expect((await graphql(app.url, QUERY, { token })).errors).toBeUndefined();
    const club = await fixtures(app.db).club();
    const [night] = await fixtures(app.db).nights(club.id, 1);
    const live = await subscribe(app.url, `subscription($id: ID!) { availabilityChanged(nightId: $id) { version } }`, { id: night!.id }, { token });
    try {
      await live.until((r) => r.length > 0);
      expect(live.results[0]!.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    } finally {
      await live.close();
    }
  });

  it('counts refusals in the metrics', async () => {
    const metrics = await (await fetch(app.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/nightgraph_rate_limited_total\{budget="query"\} [1-9]/);
    expect(metrics).toMatch(/nightgraph_rate_limited_total\{budget="mutation"\} [1-9]/);
  });
});

// Two instances draw from one budget only through a shared store: Redis.
describe.skipIf(!realRedis)('rate limits across instances (needs real Redis: embedded limits live in one process)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const prefix = `nightgraph-test:${randomBytes(6).toString('hex')}:`;
    [a, b] = await Promise.all([startTestApp({ ...LIMITS, REDIS_KEY_PREFIX: prefix }), startTestApp({ ...LIMITS, REDIS_KEY_PREFIX: prefix })]);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('shares one budget per user between instances', async () => {
    // Each test app has a JWT secret of its own: the same subject, signed for each.
    const token = await a.token({ subject: 'roaming-reader' });
    const tokenB = await b.token({ subject: 'roaming-reader' });
    for (let i = 0; i < 3; i++) expect((await graphql(a.url, QUERY, { token })).errors).toBeUndefined();
    for (let i = 0; i < 2; i++) expect((await graphql(b.url, QUERY, { token: tokenB })).errors).toBeUndefined();
    expect(codes(await graphql(a.url, QUERY, { token }))).toEqual(['RATE_LIMITED']);
    expect(codes(await graphql(b.url, QUERY, { token: tokenB }))).toEqual(['RATE_LIMITED']);
  });

  it('shares automatic persisted queries between instances', async () => {
    const query = `{ clubs(first: 3) { pageInfo { hasNextPage } } }`;
    const extensions = persisted(query);
    const unknown = await post(b.url, { extensions });
    expect(unknown.errors[0].message).toBe('PersistedQueryNotFound');
    expect((await post(a.url, { query, extensions })).errors).toBeUndefined();
    expect(await post(b.url, { extensions })).toMatchObject({ data: { clubs: { pageInfo: { hasNextPage: false } } } });
  });
});
