import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { counterValue, scrape } from '../support/metrics.js';

interface Answer {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  body: string;
}

const HIT = 'nightgraph_cache_lookups_total{cache="documents",outcome="hit"}';
const MISS = 'nightgraph_cache_lookups_total{cache="documents",outcome="miss"}';

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  // The statements' durations differ from one request to the next; everything else may not.
  const body_ = (await response.text()).replace(/"durationMs":[0-9.e-]+/g, '"durationMs":0');
  return { status: response.status, contentType: response.headers.get('content-type'), retryAfter: response.headers.get('retry-after'), body: body_ };
}

/**
 * The first request of a document is answered by Apollo's pipeline; a repeat of a
 * document it resolved, by the known-operations path. Each case sends a document twice
 * and requires the two answers to be the same, byte for byte, and the second to have been
 * a known-operations hit.
 */
async function twice(app: TestApp, body: unknown, headers: Record<string, string> = {}): Promise<[Answer, Answer, { hits: number; misses: number }]> {
  const before = await scrape(app.url);
  const first = await post(app.url, body, headers);
  const second = await post(app.url, body, headers);
  const after = await scrape(app.url);
  return [first, second, { hits: counterValue(after, HIT) - counterValue(before, HIT), misses: counterValue(after, MISS) - counterValue(before, MISS) }];
}

describe('known operations (documents Apollo resolved before, answered without its pipeline)', () => {
  let app: TestApp;
  let token: string;
  beforeAll(async () => {
    app = await startTestApp({ QUERY_MAX_COST: '500' });
    token = await app.token({ subject: 'known-reader' });
    const club = await fixtures(app.db).club();
    await fixtures(app.db).nights(club.id, 2);
  });
  afterAll(() => app?.stop());

  it('answers a repeated query exactly as the first time, from the known path', async () => {
    const [first, second, counted] = await twice(app, { query: 'query Clubs { clubs(first: 5) { edges { node { id name slug } } pageInfo { hasNextPage } } }' });
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body).data.clubs.edges.length).toBeGreaterThan(0);
    expect(second).toEqual(first);
    expect(counted).toEqual({ hits: 1, misses: 1 });
  });

  it('refuses variables that cannot be coerced with 400 and BAD_USER_INPUT, as Apollo does', async () => {
    const [first, second, counted] = await twice(app, { query: 'query Night($id: ID!) { night(id: $id) { id } }', variables: {} });
    expect(first.status).toBe(400);
    expect(JSON.parse(first.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(second).toEqual(first);
    expect(counted.hits).toBe(1);
  });

  it('reports a resolver error of a mutation the same way, status and all', async () => {
    const body = { query: 'mutation Track($id: ID!) { trackStreamer(streamerId: $id) { id } }', variables: { id: randomUUID() } };
    const [first, second, counted] = await twice(app, body, { authorization: `Bearer ${token}` });
    expect(JSON.parse(first.body).errors[0].extensions.code).toBe('NOT_FOUND');
    expect(second).toEqual(first);
    expect(counted.hits).toBe(1);
  });

  it('refuses a cost over the limit for these variables (QUERY_TOO_COMPLEX, 400) before running anything', async () => {
    const query = 'query Page($n: Int) { clubs(first: $n) { edges { node { id name slug timezone currency } } } }';
    // Resolved (and remembered) with a small page; the large one is refused on either path.
    expect((await post(app.url, { query, variables: { n: 2 } })).status).toBe(200);
    const [first, second, counted] = await twice(app, { query, variables: { n: 100 } });
    expect(first.status).toBe(400);
    expect(JSON.parse(first.body).errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(JSON.parse(first.body).extensions.sql.statements).toBe(0);
    expect(second).toEqual(first);
    expect(counted).toEqual({ hits: 2, misses: 0 });
  });

  it('negotiates the response type from `accept` as Apollo does', async () => {
    const query = '{ clubs(first: 1) { pageInfo { hasNextPage } } }';
    const [first, second] = await twice(app, { query }, { accept: 'application/graphql-response+json, application/json;q=0.9' });
    expect(first.contentType).toBe('application/graphql-response+json; charset=utf-8');
    expect(second).toEqual(first);
    // Nothing it can answer: 406 from Apollo on both requests.
    const [refused, again, counted] = await twice(app, { query }, { accept: 'text/html' });
    expect(refused.status).toBe(406);
    expect(again).toEqual(refused);
    expect(counted.hits).toBe(0);
  });

  it('refuses a bad token the same way on either path', async () => {
    const [first, second, counted] = await twice(app, { query: '{ me { id } }' }, { authorization: 'Bearer not-a-token' });
    expect(JSON.parse(first.body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(second).toEqual(first);
    expect(counted.hits).toBe(1);
  });

  it('leaves persisted queries, extensions and unusual bodies to Apollo', async () => {
    const query = '{ clubs(first: 1) { pageInfo { hasNextPage } } }';
    await post(app.url, { query });
    const before = await scrape(app.url);
    const withExtensions = await post(app.url, { query, extensions: {} });
    const oddVariables = await post(app.url, { query, variables: 'not an object' });
    const oddName = await post(app.url, { query, operationName: 7 });
    const after = await scrape(app.url);
    expect(withExtensions.status).toBe(200);
    expect(oddVariables.status).toBe(400);
    expect(oddName.status).toBe(400);
    expect(counterValue(after, HIT) - counterValue(before, HIT)).toBe(0);
  });
});

describe('known operations under a rate budget', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_QUERIES_PER_MINUTE: '2' });
  });
  afterAll(() => app?.stop());

  it('draws from the same budget and refuses over it with 429, Retry-After and RATE_LIMITED', async () => {
    const query = '{ clubs(first: 1) { pageInfo { hasNextPage } } }';
    const a = await app.token({ subject: 'budget-a' });
    const b = await app.token({ subject: 'budget-b' });
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    expect((await post(app.url, { query }, auth(a))).status).toBe(200);
    expect((await post(app.url, { query }, auth(a))).status).toBe(200);
    const before = await scrape(app.url);
    const known = await post(app.url, { query }, auth(a));
    const after = await scrape(app.url);
    expect(counterValue(after, HIT) - counterValue(before, HIT)).toBe(1);
    // The same refusal from Apollo's pipeline: a document never seen, over b's budget.
    const other = '{ clubs(first: 2) { pageInfo { hasNextPage } } }';
    await post(app.url, { query }, auth(b));
    await post(app.url, { query }, auth(b));
    const fromApollo = await post(app.url, { query: other }, auth(b));
    for (const refused of [known, fromApollo]) {
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body).errors[0].extensions.code).toBe('RATE_LIMITED');
      expect(refused.retryAfter).toBe(String(JSON.parse(refused.body).errors[0].extensions.retryAfter));
    }
    const shape = (answer: Answer) => ({ ...answer, retryAfter: null, body: answer.body.replace(/"retryAfter":\d+/, '"retryAfter":0') });
    expect(shape(known)).toEqual(shape(fromApollo));
  });
});
