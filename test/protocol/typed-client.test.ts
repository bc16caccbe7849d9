import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import manifest from '../../src/__generated__/client/persisted-documents.json' with { type: 'json' };
import {
  CancelBookingDocument,
  HoldTableDocument,
  LiveFloorPlanDocument,
  MyBookingsDocument,
  NightFloorPlanDocument,
  type LiveFloorPlanSubscription,
} from '../../src/__generated__/client/graphql.js';
import { persistedDocumentsLink } from '../../src/client/persisted-documents-link.js';
import { within } from '../support/bounded.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { counterValue, scrape } from '../support/metrics.js';

const manifestIds = new Set(Object.keys(manifest));

/** Every request body a client's HttpLink sent, as JSON. */
type Sent = { query?: string; operationName?: string; extensions?: { persistedQuery?: { version: number; sha256Hash: string } } };

/**
 * The typed client a web app builds: Apollo Client with its normalized cache, the
 * persisted-documents link, and subscriptions over graphql-ws or (without `ws`) over
 * multipart HTTP on the same HttpLink.
 */
function typedClient(app: TestApp, token: string, subscriptions: 'graphql-ws' | 'multipart') {
  const sent: Sent[] = [];
  const http = new HttpLink({
    uri: app.url,
    headers: { authorization: `Bearer ${token}` },
    fetch: async (input, init) => {
      sent.push(JSON.parse(String(init?.body)) as Sent);
      return fetch(input, init);
    },
  });
  const socket =
    subscriptions === 'graphql-ws'
      ? createClient({ url: app.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } })
      : undefined;
  const transport = socket
    ? ApolloLink.split(
        ({ query }) => {
          const definition = getMainDefinition(query);
          return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
        },
        new GraphQLWsLink(socket),
        http,
      )
    : http;
  const client = new ApolloClient({ link: ApolloLink.from([persistedDocumentsLink(), transport]), cache: new InMemoryCache() });
  return {
    client,
    sent,
    async close() {
      client.stop();
      await socket?.dispose();
    },
  };
}

async function until(what: string, predicate: () => boolean): Promise<void> {
  await within(5_000, what, (async () => {
    while (!predicate()) await new Promise((r) => setTimeout(r, 10));
  })());
}

describe('the typed client against a server that enforces trusted documents', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp({ TRUSTED_DOCUMENTS: 'enforce' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('sends a query as its manifest hash alone, and answers it again from the normalized cache without a request', async () => {
    const { nightId } = await fx.nightWithTables(2);
    const typed = typedClient(app, await app.token({ subject: 'typed-floor' }), 'graphql-ws');
    try {
      const first = await typed.client.query({ query: NightFloorPlanDocument, variables: { nightId } });
      expect(first.data?.night?.availability.tables.map((t) => [t.table.label, t.state])).toEqual([
        ['T1', 'FREE'],
        ['T2', 'FREE'],
      ]);
      expect(typed.sent).toHaveLength(1);
      expect(typed.sent[0]!.query).toBeUndefined();
      expect(typed.sent[0]!.extensions?.persistedQuery?.version).toBe(1);
      expect(manifestIds.has(`sha256:${typed.sent[0]!.extensions!.persistedQuery!.sha256Hash}`)).toBe(true);

      const again = await typed.client.query({ query: NightFloorPlanDocument, variables: { nightId } });
      expect(again.data).toEqual(first.data);
      expect(typed.sent).toHaveLength(1);
    } finally {
      await typed.close();
    }
  });

  it('updates the cache from a mutation’s answer: a cancelled booking reads as cancelled in the cached list', async () => {
    const { nightId, tableIds } = await fx.nightWithTables(1);
    const typed = typedClient(app, await app.token({ subject: 'typed-bookings' }), 'graphql-ws');
    try {
      const held = await typed.client.mutate({
        mutation: HoldTableDocument,
        variables: { input: { nightId, tableId: tableIds[0]!, partySize: 2, idempotencyKey: 'typed-hold' } },
      });
      const booking = held.data!.holdTable;
      expect(booking).toMatchObject({ status: 'HELD', table: { label: 'T1' }, night: { id: nightId } });
      const listed = await typed.client.query({ query: MyBookingsDocument, variables: { when: 'ALL' } });
      expect(listed.data?.me?.bookings?.edges.map((e) => [e.node.id, e.node.status])).toEqual([[booking.id, 'HELD']]);

      const cancelled = await typed.client.mutate({ mutation: CancelBookingDocument, variables: { id: booking.id } });
      expect(cancelled.data!.cancelBooking).toEqual({ __typename: 'Booking', id: booking.id, status: 'CANCELLED' });
      const requests = typed.sent.length;
      // Booking:<id> in the cache took the mutation's answer: the list shows it without asking the server.
      const cached = typed.client.readQuery({ query: MyBookingsDocument, variables: { when: 'ALL' } });
      expect(cached?.me?.bookings?.edges.map((e) => [e.node.id, e.node.status])).toEqual([[booking.id, 'CANCELLED']]);
      expect(typed.sent).toHaveLength(requests);
      expect(typed.sent.every((body) => body.query === undefined && manifestIds.has(`sha256:${body.extensions?.persistedQuery?.sha256Hash}`))).toBe(true);
    } finally {
      await typed.close();
    }
  });

  for (const transport of ['graphql-ws', 'multipart'] as const) {
    it(`follows the live floor plan over ${transport} by the subscription's hash`, async () => {
      const { nightId, tableIds } = await fx.nightWithTables(2);
      const token = await app.token({ subject: `typed-live-${transport}` });
      const typed = typedClient(app, token, transport);
      const checks = `nightgraph_trusted_document_checks_total{transport="${transport === 'graphql-ws' ? 'graphql-ws' : 'http'}",document="manifest",action="run"}`;
      const before = counterValue(await scrape(app.url), checks);
      const results: LiveFloorPlanSubscription[] = [];
      let failure: unknown;
      const subscription = typed.client.subscribe({ query: LiveFloorPlanDocument, variables: { nightId } }).subscribe({
        next: (result) => {
          if (result.error) failure = result.error;
          else if (result.data) results.push(result.data);
        },
        error: (error) => void (failure = error),
      });
      try {
        await until('the first snapshot', () => results.length > 0 || failure !== undefined);
        expect(failure).toBeUndefined();
        expect(results[0]!.availabilityChanged).toMatchObject({ nightId, version: 0 });
        await typed.client.mutate({
          mutation: HoldTableDocument,
          variables: { input: { nightId, tableId: tableIds[1]!, partySize: 2, idempotencyKey: `typed-live-${transport}` } },
        });
        await until('the hold', () => results.some((r) => r.availabilityChanged.version === 1));
        expect(results.at(-1)!.availabilityChanged.tables.map((t) => t.state)).toEqual(['FREE', 'HELD']);
        if (transport === 'multipart') {
          // The subscription went out on POST /graphql as its hash, like every other operation of this client.
          const sentSubscription = typed.sent.find((body) => body.operationName === 'LiveFloorPlan');
          expect(sentSubscription?.query).toBeUndefined();
          expect(manifestIds.has(`sha256:${sentSubscription?.extensions?.persistedQuery?.sha256Hash}`)).toBe(true);
        }
        // GraphQLWsLink sends Apollo's printing of the document too, which is not the manifest's text:
        // the server ran the manifest's document for the hash.
        expect(counterValue(await scrape(app.url), checks)).toBeGreaterThan(before);
      } finally {
        subscription.unsubscribe();
        await typed.close();
      }
    });
  }
});
