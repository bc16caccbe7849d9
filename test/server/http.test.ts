import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

describe('HTTP surface', () => {
  let app: TestApp;
  let base: string;
  beforeAll(async () => {
    app = await startTestApp();
    base = app.url.replace(/\/graphql$/, '');
  });
  afterAll(() => app?.stop());

  it('reports the SQL a request cost in Server-Timing and in extensions', async () => {
    const club = await fixtures(app.db).club();
    const response = await graphql(app.url, `query($slug: String!) { club(slug: $slug) { tables { id } } }`, {
      variables: { slug: club.slug },
    });
    expect(response.extensions?.sql?.statements).toBe(2);
    expect(response.headers.get('server-timing')).toMatch(/^sql;dur=[\d.]+;desc="2 statements", total;dur=[\d.]+$/);
  });

  it('shows Apollo Sandbox to a browser opening /graphql', async () => {
    const response = await fetch(app.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain('embeddable-sandbox');
  });

  it('answers liveness, readiness and metrics', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: app.dbKind });
    await graphql(app.url, '{ clubs { edges { cursor } } }');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('nightgraph_sql_statements_per_request_count');
    expect(metrics).toMatch(/nightgraph_graphql_requests_total\{outcome="ok"\} [1-9]/);
  });

  it('turns malformed requests into BAD_USER_INPUT', async () => {
    const invalid = await graphql(app.url, '{ clubs { nope } }');
    expect(invalid.status).toBe(400);
    expect(codes(invalid)).toEqual(['BAD_USER_INPUT']);

    const unparsable = await graphql(app.url, '{ clubs { ');
    expect(codes(unparsable)).toEqual(['BAD_USER_INPUT']);

    const badJson = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a cursor it did not issue and a negative page size', async () => {
    const cursor = await graphql(app.url, '{ clubs(after: "not-a-cursor") { edges { cursor } } }');
    expect(codes(cursor)).toEqual(['BAD_USER_INPUT']);
    const negative = await graphql(app.url, '{ clubs(first: -1) { edges { cursor } } }');
    expect(codes(negative)).toEqual(['BAD_USER_INPUT']);
  });

  it('caps page size at 100', async () => {
    const fx = fixtures(app.db);
    const user = await fx.user();
    const streamers = await fx.streamers(105);
    await fx.track(user.id, streamers.map((s) => s.id));
    const response = await graphql(app.url, '{ me { trackedStreamers(first: 1000) { edges { cursor } pageInfo { hasNextPage } } } }', {
      token: await app.token({ subject: user.subject }),
    });
    expect(response.data.me.trackedStreamers.edges).toHaveLength(100);
    expect(response.data.me.trackedStreamers.pageInfo.hasNextPage).toBe(true);
  });

  it('answers 404 for paths it does not serve', async () => {
    expect((await fetch(`${base}/nothing-here`)).status).toBe(404);
  });
});
