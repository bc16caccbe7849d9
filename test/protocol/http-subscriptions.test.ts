import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { within } from '../support/bounded.js';
import { counterValue, sample, scrape } from '../support/metrics.js';
import { sseSubscribe as sseStream } from '../support/sse.js';

const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`;
const SUBSCRIPTION = `subscription($nightId: ID!) { availabilityChanged(nightId: $nightId) { version tables { state } } }`;
const HOST_SUBSCRIPTION = `subscription($nightId: ID!) { availabilityChanged(nightId: $nightId) { version night { tables { state } } } }`;

type Result = { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
const versions = (results: Result[]) => results.map((r) => r.data?.availabilityChanged.version as number);

async function until(results: Result[], predicate: (r: Result[]) => boolean, what: string) {
  let waiting = true;
  const wait = (async () => {
    while (waiting && !predicate(results)) await new Promise((r) => setTimeout(r, 10));
  })();
  try {
    await within(5_000, `${what}; got ${JSON.stringify(results)}`, wait);
  } finally {
    waiting = false;
  }
}

/** Subscribes with graphql-sse's own client, in the mode given. */
function sseSubscribe(app: TestApp, mode: 'distinct' | 'single', query: string, variables: Record<string, unknown>, token?: string) {
  return sseStream(app.url, { singleConnection: mode === 'single', token }, { query, variables });
}

/** Subscribes with Apollo Client over its HttpLink: the multipart protocol. */
function multipartSubscribe(app: TestApp, query: string, variables: Record<string, unknown>, token?: string) {
  const client = new ApolloClient({
    link: new HttpLink({ uri: app.url, headers: token ? { authorization: `Bearer ${token}` } : {} }),
    cache: new InMemoryCache(),
  });
  const results: Result[] = [];
  let failure: unknown;
  let completed = false;
  const subscription = client.subscribe({ query: gql(query), variables, errorPolicy: 'all' }).subscribe({
    // Apollo Client adds __typename to every selection; the other transports' results have none.
    // Apollo Client 4 hands GraphQL errors over as `error` (CombinedGraphQLErrors).
    next: (r) => {
      const plain = JSON.parse(JSON.stringify(r, (key, value) => (key === '__typename' ? undefined : value)));
      // A refused request (a 401, say) is no GraphQL result: it is the subscription's failure.
      if (plain.error && !plain.error.errors) return void (failure = r.error);
      results.push({ data: plain.data, ...(plain.error?.errors ? { errors: plain.error.errors } : {}) });
    },
    error: (e) => void (failure = e),
    complete: () => void (completed = true),
  });
  return {
    results,
    failure: () => failure,
    completed: () => completed,
    close() {
      subscription.unsubscribe();
      client.stop();
    },
  };
}

describe('subscriptions over HTTP: graphql-sse at /graphql/stream and multipart on POST /graphql', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  const night = (tables = 2) => fx.nightWithTables(tables);

  const transports = {
    'graphql-sse, distinct connections': (q: string, v: Record<string, unknown>, t?: string) => sseSubscribe(app, 'distinct', q, v, t),
    'graphql-sse, single connection': (q: string, v: Record<string, unknown>, t?: string) => sseSubscribe(app, 'single', q, v, t),
    'multipart HTTP (Apollo Client)': (q: string, v: Record<string, unknown>, t?: string) => multipartSubscribe(app, q, v, t),
  };

  for (const [name, open] of Object.entries(transports)) {
    it(`${name}: the current snapshot first, then each change with strictly increasing versions`, async () => {
      const { nightId, tableIds } = await night();
      const token = await app.token({ subject: `http-live-${name.length}` });
      const live = open(SUBSCRIPTION, { nightId });
      try {
        await until(live.results, (r) => r.length === 1 || live.failure() !== undefined, 'the snapshot');
        expect(live.failure()).toBeUndefined();
        expect(live.results[0]!.data!.availabilityChanged).toEqual({ version: 0, tables: [{ state: 'FREE' }, { state: 'FREE' }] });
        for (const [i, tableId] of tableIds.entries()) {
          await graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId, partySize: 2, idempotencyKey: `${name}-${i}` } } });
        }
        await until(live.results, (r) => versions(r).at(-1) === 2, 'both holds');
        const seen = versions(live.results);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
        expect(live.results.at(-1)!.data!.availabilityChanged.tables).toEqual([{ state: 'HELD' }, { state: 'HELD' }]);
        expect(live.failure()).toBeUndefined();
      } finally {
        live.close();
      }
    });

    it(`${name}: a subscriber's private fields as that subscriber, masked for a guest, and a refused token`, async () => {
      const { clubId, nightId } = await night(1);
      const host = open(HOST_SUBSCRIPTION, { nightId }, await app.token({ subject: 'http-host', roles: ['host'], clubIds: [clubId] }));
      const guest = open(HOST_SUBSCRIPTION, { nightId }, await app.token({ subject: 'http-guest' }));
      try {
        await until(host.results, (r) => r.length > 0, 'the host’s snapshot');
        await until(guest.results, (r) => r.length > 0, 'the guest’s snapshot');
        expect(host.results[0]!.data!.availabilityChanged.night.tables).toEqual([{ state: 'FREE' }]);
        expect(guest.results[0]!.data!.availabilityChanged.night.tables).toBeNull();
        expect(guest.results[0]!.errors!.map((e) => e.extensions!.code)).toEqual(['FORBIDDEN']);
      } finally {
        host.close();
        guest.close();
      }
      const refused = open(SUBSCRIPTION, { nightId }, 'not-a-token');
      try {
        await until(refused.results, () => refused.failure() !== undefined, 'the refusal');
        expect(refused.results).toEqual([]);
      } finally {
        refused.close();
      }
    });
  }

  it('answers validation errors and unknown nights in the stream’s own terms', async () => {
    const sse = sseSubscribe(app, 'distinct', 'subscription { availabilityChanged(nightId: "00000000-0000-4000-8000-000000000000") { version } }', {});
    const invalid = sseSubscribe(app, 'distinct', 'subscription { nope }', {});
    try {
      await until(sse.results, (r) => r.length > 0, 'the NOT_FOUND result');
      expect(sse.results[0]!.errors!.map((e) => e.extensions!.code)).toEqual(['NOT_FOUND']);
      await until(invalid.results, (r) => r.length > 0, 'the validation error');
      expect(invalid.results[0]!.errors!.map((e) => e.extensions!.code)).toEqual(['BAD_USER_INPUT']);
      await until([], () => sse.completed() && invalid.completed(), 'both complete');
    } finally {
      sse.close();
      invalid.close();
    }
    const response = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec="1.0", application/json' },
      body: JSON.stringify({ query: 'subscription { availabilityChanged(nightId: "x") { nope } }' }),
    });
    // Not a valid subscription: Apollo answers it as any invalid document.
    expect(response.status).toBe(400);
    for (const path of ['', '/stream']) {
      const refused = await fetch(`${app.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: path ? 'text/event-stream' : 'multipart/mixed;subscriptionSpec="1.0", application/json', authorization: 'Bearer nonsense' },
        body: JSON.stringify({ query: SUBSCRIPTION, variables: { nightId: '00000000-0000-4000-8000-000000000000' } }),
      });
      expect(refused.status, path).toBe(401);
      expect(((await refused.json()) as any).errors[0].extensions.code, path).toBe('UNAUTHENTICATED');
    }
  });

  it('counts an open subscription in nightgraph_subscriptions_active, and a multipart one as no HTTP request latency', async () => {
    const { nightId } = await night(1);
    // A multipart subscription is labelled as no operation would be: the series every unnamed request counts in.
    const series = 'nightgraph_graphql_request_duration_seconds_count{operation="anonymous",outcome="ok"}';
    const before = counterValue(await scrape(app.url), series);
    const controller = new AbortController();
    const response = await fetch(app.url, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec="1.0", application/json' },
      body: JSON.stringify({ query: SUBSCRIPTION, variables: { nightId } }),
    });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('"payload"')) text += new TextDecoder().decode((await reader.read()).value);
    const active = async () => sample(await scrape(app.url), 'nightgraph_subscriptions_active');
    expect(await active()).toBeGreaterThanOrEqual(1);
    controller.abort();
    await within(5_000, 'the subscription to end', (async () => {
      while ((await active()) !== 0) await new Promise((r) => setTimeout(r, 20));
    })());
    expect(counterValue(await scrape(app.url), series)).toBe(before);
  });

  it('streams a multipart subscription with its heartbeat first, parts of {"payload": …}, and ends it on shutdown with UNAVAILABLE', async () => {
    const own = await startTestApp();
    try {
      const { nightId } = await fixtures(own.db).nightWithTables(1);
      const response = await fetch(own.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec="1.0", application/json' },
        body: JSON.stringify({ query: SUBSCRIPTION, variables: { nightId } }),
      });
      expect(response.headers.get('content-type')).toBe('multipart/mixed;boundary="graphql";subscriptionSpec="1.0"');
      const reader = response.body!.getReader();
      let text = '';
      const readUntil = async (predicate: () => boolean) => {
        while (!predicate()) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
      };
      await within(5_000, 'the first result', readUntil(() => text.includes('"payload"')));
      const sseClient = sseSubscribe(own, 'distinct', SUBSCRIPTION, { nightId });
      await until(sseClient.results, (r) => r.length > 0, 'the event stream’s snapshot');
      const stopping = own.stop();
      await within(5_000, 'the closing boundary', readUntil(() => text.endsWith('\r\n--graphql--\r\n')));
      await stopping;
      expect(text.startsWith('\r\n--graphql\r\ncontent-type: application/json')).toBe(true);
      const parts = text.split('\r\n--graphql').slice(1, -1).map((part) => JSON.parse(part.slice(part.indexOf('\r\n\r\n') + 4)));
      expect(parts[0]).toEqual({});
      expect(parts[1]).toEqual({ payload: { data: { availabilityChanged: { version: 0, tables: [{ state: 'FREE' }] } } } });
      expect(parts.at(-1)).toMatchObject({ payload: null, errors: [{ extensions: { code: 'UNAVAILABLE' } }] });
      sseClient.close();
    } finally {
      await own.stop();
    }
  });
});
