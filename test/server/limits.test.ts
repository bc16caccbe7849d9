import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userStreamers } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';
import { watchStatements } from '../support/statements.js';

const LIMITS = {
  QUERY_MAX_DEPTH: '5',
  QUERY_MAX_ALIASES: '3',
  QUERY_MAX_DIRECTIVES: '2',
  QUERY_MAX_TOKENS: '300',
  QUERY_MAX_COST: '500',
};

const overLimit: [string, string, Record<string, unknown>?][] = [
  ['depth', `{ clubs { edges { node { nights { edges { node { id } } } } } } }`],
  ['aliases', `{ a: clubs { pageInfo { hasNextPage } } b: clubs { pageInfo { hasNextPage } } c: clubs { pageInfo { hasNextPage } } d: clubs { pageInfo { hasNextPage } } }`],
  ['directives', `{ clubs @include(if: true) { pageInfo @include(if: true) { hasNextPage @skip(if: false) } } }`],
  ['tokens', `{ clubs { pageInfo { ${'hasNextPage '.repeat(300)} } } }`],
  ['cost', `{ clubs(first: 100) { edges { node { id slug name timezone } } } }`],
  ['cost with variables', `query($n: Int) { clubs(first: $n) { edges { node { id slug name timezone } } } }`, { n: 100 }],
  ['cost of pages within pages', `{ clubs(first: 10) { edges { node { nights(first: 10) { edges { node { id } } } } } } }`],
];

describe('query limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(LIMITS);
  });
  afterAll(() => app?.stop());

  it.each(overLimit)('refuses a query over the %s limit with QUERY_TOO_COMPLEX and 400 before anything runs', async (_limit, query, variables) => {
    const response = await graphql(app.url, query, { variables });
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(response.data ?? null).toBeNull();
    expect(response.errors![0]!.message).toMatch(/limit/i);
  });

  it.each(overLimit)('refuses the same query over the %s limit on the WebSocket', async (_limit, query, variables) => {
    const overWs = await subscribe(app.url, query, variables ?? {});
    try {
      await overWs.until((r) => r.length > 0);
      expect(overWs.results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code))).toEqual(['QUERY_TOO_COMPLEX']);
      expect(overWs.results[0]!.errors![0]!.extensions).not.toHaveProperty('http');
    } finally {
      await overWs.close();
    }
  });

  it('answers queries within every limit, counting the page size the variables ask for', async () => {
    const small = await graphql(app.url, `query($n: Int) { clubs(first: $n) { edges { node { id slug name timezone } } } }`, { variables: { n: 10 } });
    expect(small.errors).toBeUndefined();
    const aliased = await graphql(app.url, `{ a: clubs { pageInfo { hasNextPage } } b: clubs { pageInfo { hasNextPage @include(if: true) } } }`);
    expect(aliased.errors).toBeUndefined();
  });

  it('runs no resolver of a mutation over a limit', async () => {
    const fx = fixtures(app.db);
    const streamers = await fx.streamers(4);
    const token = await app.token({ subject: 'aliaser' });
    const mutation = `mutation { ${streamers.map((s, i) => `t${i}: trackStreamer(streamerId: "${s.id}") { id }`).join(' ')} }`;
    const statements = watchStatements();
    const response = await graphql(app.url, mutation, { token, headers: { 'x-request-id': 'over-limit-1' } }).finally(() => statements.stop());
    expect(codes(response)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(response.extensions?.sql?.statements).toBe(0);
    expect(statements.sentFor('over-limit-1')).toBe(0);
    expect(await app.db.select().from(userStreamers)).toEqual([]);
  });
});

describe('the HTTP surface refuses what it should with 4xx', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ REQUEST_MAX_BYTES: '4096' });
  });
  afterAll(() => app?.stop());

  it('refuses a body over the size limit with 413', async () => {
    const response = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ clubs { pageInfo { hasNextPage } } }`, variables: { pad: 'x'.repeat(5_000) } }),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses batched requests', async () => {
    const response = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(response.status).toBe(400);
  });

  it('refuses requests a browser could send cross-site without a preflight (CSRF prevention)', async () => {
    const simpleGet = await fetch(`${app.url}?query=${encodeURIComponent('{ __typename }')}`);
    expect(simpleGet.status).toBe(400);
    const simplePost = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(simplePost.status).toBe(400);
    const preflighted = await fetch(`${app.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(preflighted.status).toBe(200);
  });
});

describe('introspection in production', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' });
  });
  afterAll(() => app?.stop());

  it('is allowed on both transports when GRAPHQL_INTROSPECTION=true', async () => {
    const overHttp = await graphql(app.url, '{ __schema { queryType { name } } }');
    expect(overHttp.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const overWs = await subscribe(app.url, '{ __schema { queryType { name } } }', {});
    try {
      await overWs.until((r) => r.length > 0);
      expect(overWs.results[0]!.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    } finally {
      await overWs.close();
    }
  });

  it('still names no schema field in a validation error', async () => {
    const response = await graphql(app.url, '{ clubz { id } }');
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.message).not.toMatch(/Did you mean/);
  });
});
