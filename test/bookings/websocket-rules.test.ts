import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';

const codesOf = (results: { errors?: { extensions?: { code?: string } }[] }[]) =>
  results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code));

describe('the WebSocket transport keeps the HTTP rules (production settings)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ NODE_ENV: 'production' });
  });
  afterAll(() => app?.stop());

  it('refuses introspection, as HTTP does in production', async () => {
    const overWs = await subscribe(app.url, '{ __schema { types { name } } }', {});
    try {
      await overWs.until((r) => r.length > 0);
      const codes = codesOf(overWs.results);
      expect(codes.length).toBeGreaterThan(0);
      expect(new Set(codes)).toEqual(new Set(['BAD_USER_INPUT']));
    } finally {
      await overWs.close();
    }
    const overHttp = await graphql(app.url, '{ __schema { types { name } } }');
    expect(overHttp.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('answers unknown fields and missing variables with BAD_USER_INPUT, naming no schema field', async () => {
    const misspelt = await subscribe(app.url, 'subscription { availabilityChange(nightId: "x") { version } }', {});
    const missing = await subscribe(app.url, 'subscription($n: ID!) { availabilityChanged(nightId: $n) { version } }', {});
    try {
      await misspelt.until((r) => r.length > 0);
      await missing.until((r) => r.length > 0);
      expect(codesOf(misspelt.results)).toEqual(['BAD_USER_INPUT']);
      expect(JSON.stringify(misspelt.results)).not.toContain('Did you mean');
      expect(codesOf(missing.results)).toEqual(['BAD_USER_INPUT']);
    } finally {
      await Promise.all([misspelt.close(), missing.close()]);
    }
  });

  it('answers a NUL byte in input with BAD_USER_INPUT and writes nothing', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1);
    const [night] = await fx.nights(club.id, 1);
    const token = await app.token({ subject: 'nul-guest' });
    const response = await graphql(app.url, `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`, {
      token,
      variables: { input: { nightId: night!.id, tableId: table!.id, partySize: 2, idempotencyKey: 'a\u0000b' } },
    });
    expect(response.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const availability = await graphql(app.url, `query($id: ID!) { night(id: $id) { availability { version } } }`, { variables: { id: night!.id } });
    expect(availability.data.night.availability.version).toBe(0);
  });
});

describe('stopping with clients connected', () => {
  it('closes open WebSockets with 1001 and finishes', async () => {
    const app = await startTestApp();
    const socket = new WebSocket(app.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await app.stop();
    expect(await closed).toBe(1001);
  });
});
