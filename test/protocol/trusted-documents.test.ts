import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelBookingDocument, LiveFloorPlanDocument, NightFloorPlanDocument } from '../../src/__generated__/client/graphql.js';
import manifest from '../../src/__generated__/client/persisted-documents.json' with { type: 'json' };
import { sha256HashOf } from '../../src/client/persisted-documents-link.js';
import { documentIdOf } from '../../src/server/trusted-documents.js';
import { within } from '../support/bounded.js';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { counterValue, scrape } from '../support/metrics.js';
import { sseSubscribe as sseStream } from '../support/sse.js';
import { capturingLogger, createStorage, startOwnApp, type OwnApp, type Storage } from './support.js';

const FREE_TEXT = 'query Clubs { clubs(first: 1) { edges { node { id } } } }';
/** Not even GraphQL: refused with the policy's code, not the parser's, shows nothing parsed it. */
const UNPARSEABLE = '{ clubs(first: ';
const FREE_SUBSCRIPTION = 'subscription Live($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }';
const UNKNOWN_HASH = 'f'.repeat(64);
const floorPlanHash = sha256HashOf(NightFloorPlanDocument);
const liveHash = sha256HashOf(LiveFloorPlanDocument);
const floorPlanText = (manifest as Record<string, string>)[`sha256:${floorPlanHash}`]!;
const persisted = (sha256Hash: string) => ({ persistedQuery: { version: 1, sha256Hash } });
const MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json';

type Body = { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Body }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Body };
}

/** A GET as a GraphQL client sends it: the request in the URL, and the header Apollo's CSRF prevention asks for. */
async function get(url: string, params: Record<string, unknown>): Promise<{ status: number; body: Body }> {
  const search = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const response = await fetch(`${url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
  return { status: response.status, body: (await response.json()) as Body };
}

const codeOf = (body: Body) => body.errors?.map((e) => e.extensions?.code);

async function until(what: string, predicate: () => boolean): Promise<void> {
  await within(5_000, what, (async () => {
    while (!predicate()) await new Promise((r) => setTimeout(r, 10));
  })());
}

/** A bare graphql-transport-ws connection, acknowledged. */
async function rawSocket(url: string) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: { type: string; id?: string; payload?: any }[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as (typeof messages)[number]));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const next = async (predicate: (m: (typeof messages)[number]) => boolean, what: string) => {
    await until(what, () => messages.some(predicate));
    return messages.find(predicate)!;
  };
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await next((m) => m.type === 'connection_ack', 'connection_ack');
  return { socket, messages, next, send: (message: unknown) => socket.send(JSON.stringify(message)) };
}

function sseSubscribe(app: { url: string }, singleConnection: boolean, request: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> }) {
  return sseStream(app.url, { singleConnection }, request);
}

describe('TRUSTED_DOCUMENTS=enforce', () => {
  let app: TestApp;
  let nightId: string;
  beforeAll(async () => {
    app = await startTestApp({ TRUSTED_DOCUMENTS: 'enforce' });
    ({ nightId } = await fixtures(app.db).nightWithTables(1));
  });
  afterAll(() => app?.stop());

  it('refuses a document sent as text on POST and GET with TRUSTED_DOCUMENT_REQUIRED (400), before anything parses it', async () => {
    for (const query of [FREE_TEXT, UNPARSEABLE]) {
      const posted = await post(app.url, { query });
      expect([posted.status, codeOf(posted.body)], query).toEqual([400, ['TRUSTED_DOCUMENT_REQUIRED']]);
      const got = await get(app.url, { query });
      expect([got.status, codeOf(got.body)], query).toEqual([400, ['TRUSTED_DOCUMENT_REQUIRED']]);
    }
    expect(counterValue(await scrape(app.url), 'nightgraph_trusted_document_checks_total{transport="http",document="free_text",action="refused"}')).toBe(4);
  });

  it("runs a manifest document named by documentId or by Apollo's persisted-query hash, on POST and GET, or sent as its exact text", async () => {
    const variables = { nightId };
    const answers = [
      await post(app.url, { documentId: `sha256:${floorPlanHash}`, variables }),
      await post(app.url, { extensions: persisted(floorPlanHash), variables }),
      await post(app.url, { query: floorPlanText, variables }),
      await get(app.url, { documentId: `sha256:${floorPlanHash}`, variables }),
      await get(app.url, { extensions: persisted(floorPlanHash), variables }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data.night).toMatchObject({ __typename: 'Night', id: nightId, availability: { tables: [{ state: 'FREE' }] } });
    }
  });

  it('answers an unknown hash with PERSISTED_QUERY_NOT_FOUND (200, as Apollo does) and refuses registering it with its text', async () => {
    const unknown = await post(app.url, { extensions: persisted(UNKNOWN_HASH) });
    expect([unknown.status, unknown.body.errors]).toEqual([200, [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }]]);
    expect(unknown.headers.get('cache-control')).toBe('private, no-cache, must-revalidate');
    expect(codeOf((await post(app.url, { documentId: `sha256:${UNKNOWN_HASH}` })).body)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);

    const sha256 = createHash('sha256').update(FREE_TEXT).digest('hex');
    const registering = await post(app.url, { query: FREE_TEXT, extensions: persisted(sha256) });
    expect([registering.status, codeOf(registering.body)]).toEqual([400, ['TRUSTED_DOCUMENT_REQUIRED']]);
    // Nothing was registered in Apollo's persisted-query cache: the hash alone is still unknown.
    expect(codeOf((await post(app.url, { extensions: persisted(sha256) })).body)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });

  it("lets Apollo Client's persisted-queries link send the text of an unknown document once, and refuses it", async () => {
    let requests = 0;
    const client = new ApolloClient({
      link: ApolloLink.from([
        new PersistedQueryLink({ sha256: (text) => createHash('sha256').update(text).digest('hex') }),
        new HttpLink({ uri: app.url, fetch: (input, init) => ((requests += 1), fetch(input, init)) }),
      ]),
      cache: new InMemoryCache(),
    });
    try {
      const answer = await client.query({ query: gql(FREE_TEXT), errorPolicy: 'all' }).catch((error: unknown) => ({ error }));
      expect(JSON.stringify(answer.error)).toContain('TRUSTED_DOCUMENT_REQUIRED');
      // The hash, then the text: the link retries once and the refusal invites no more.
      expect(requests).toBe(2);
    } finally {
      client.stop();
    }
  });

  it('refuses on graphql-ws with an error message for that operation; the socket stays open for trusted ones', async () => {
    const ws = await rawSocket(app.url);
    try {
      ws.send({ id: 'text', type: 'subscribe', payload: { query: FREE_SUBSCRIPTION, variables: { nightId } } });
      ws.send({ id: 'unknown', type: 'subscribe', payload: { query: '', extensions: persisted(UNKNOWN_HASH) } });
      ws.send({ id: 'trusted', type: 'subscribe', payload: { query: '', variables: { nightId }, extensions: persisted(liveHash) } });
      const text = await ws.next((m) => m.id === 'text', 'the refusal of the text');
      expect([text.type, text.payload.map((e: { extensions: { code: string } }) => e.extensions.code)]).toEqual(['error', ['TRUSTED_DOCUMENT_REQUIRED']]);
      const unknown = await ws.next((m) => m.id === 'unknown', 'the refusal of the unknown hash');
      expect([unknown.type, unknown.payload.map((e: { extensions: { code: string } }) => e.extensions.code)]).toEqual(['error', ['PERSISTED_QUERY_NOT_FOUND']]);
      const trusted = await ws.next((m) => m.id === 'trusted', 'the trusted subscription’s snapshot');
      expect(trusted).toMatchObject({ type: 'next', payload: { data: { availabilityChanged: { nightId, version: 0 } } } });
      expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    } finally {
      ws.socket.close();
    }
  });

  for (const singleConnection of [false, true]) {
    it(`refuses on graphql-sse (${singleConnection ? 'single connection' : 'distinct connections'}): the stream's one result carries the code`, async () => {
      const refused = sseSubscribe(app, singleConnection, { query: FREE_SUBSCRIPTION, variables: { nightId } });
      const trusted = sseSubscribe(app, singleConnection, { query: '', variables: { nightId }, extensions: persisted(liveHash) });
      try {
        await until('the refusal', () => refused.results.length > 0 || refused.failure() !== undefined);
        expect(refused.results.map(codeOf)).toEqual([['TRUSTED_DOCUMENT_REQUIRED']]);
        await until('the refused stream to complete', () => refused.completed());
        await until('the trusted snapshot', () => trusted.results.length > 0 || trusted.failure() !== undefined);
        expect(trusted.failure()).toBeUndefined();
        expect(trusted.results[0]!.data.availabilityChanged).toMatchObject({ nightId, version: 0 });
      } finally {
        refused.close();
        trusted.close();
      }
    });
  }

  it('refuses a GET on /graphql/stream that names a mutation by id, as any GET mutation', async () => {
    const search = new URLSearchParams({ documentId: `sha256:${sha256HashOf(CancelBookingDocument)}`, variables: JSON.stringify({ id: nightId }) });
    const response = await fetch(`${app.url}/stream?${search}`, { headers: { accept: 'text/event-stream' } });
    expect(response.status).toBe(405);
  });

  it('refuses a multipart subscription sent as text with 400 before streaming', async () => {
    const refused = await post(app.url, { query: FREE_SUBSCRIPTION, variables: { nightId } }, { accept: MULTIPART });
    expect([refused.status, refused.headers.get('content-type'), codeOf(refused.body)]).toEqual([400, 'application/json; charset=utf-8', ['TRUSTED_DOCUMENT_REQUIRED']]);
  });

  it('still serves the landing page: a GET of HTML names no document', async () => {
    const page = await fetch(app.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });
});

describe('TRUSTED_DOCUMENTS=log', () => {
  let storage: Storage;
  let own: OwnApp;
  const { logger, lines } = capturingLogger();
  beforeAll(async () => {
    storage = await createStorage();
    own = await startOwnApp(storage, { env: { TRUSTED_DOCUMENTS: 'log' }, logger });
  });
  afterAll(async () => {
    await own?.stop();
    await storage?.remove();
  });

  it('runs a document outside the manifest, counting every request and logging the document once', async () => {
    for (let i = 0; i < 2; i += 1) {
      const answer = await post(own.url, { query: FREE_TEXT });
      expect([answer.status, answer.body.errors]).toEqual([200, undefined]);
      expect(answer.body.data.clubs.edges).toEqual([]);
    }
    const metrics = await scrape(own.url);
    expect(counterValue(metrics, 'nightgraph_trusted_document_checks_total{transport="http",document="free_text",action="run"}')).toBe(2);
    const logged = lines.filter((line) => line.msg === 'ran a document that is not in the trusted-documents manifest');
    expect(logged).toEqual([expect.objectContaining({ level: 40, transport: 'http', document: 'free_text', operationName: 'Clubs', textId: documentIdOf(FREE_TEXT) })]);
  });

  it("runs the manifest's documents by id, counted as such", async () => {
    const { nightId } = await fixtures(own.db).nightWithTables(1);
    const answer = await post(own.url, { documentId: `sha256:${floorPlanHash}`, variables: { nightId } });
    expect(answer.body.data.night.id).toBe(nightId);
    expect(counterValue(await scrape(own.url), 'nightgraph_trusted_document_checks_total{transport="http",document="manifest",action="run"}')).toBe(1);
  });
});

describe('TRUSTED_DOCUMENTS=off (the default)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app?.stop());

  it('reads no manifest: any document runs, persisted queries are Apollo’s, and nothing is counted', async () => {
    expect(app.config.trustedDocuments.mode).toBe('off');
    expect((await post(app.url, { query: FREE_TEXT })).body).toMatchObject({ data: { clubs: { edges: [] } } });
    // The manifest's hash means nothing until the text is registered with it, as for any APQ client.
    expect(codeOf((await post(app.url, { extensions: persisted(floorPlanHash), variables: { nightId: 'x' } })).body)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    const { nightId } = await fixtures(app.db).nightWithTables(1);
    expect((await post(app.url, { query: floorPlanText, extensions: persisted(floorPlanHash), variables: { nightId } })).body.data.night.id).toBe(nightId);
    expect((await post(app.url, { extensions: persisted(floorPlanHash), variables: { nightId } })).body.data.night.id).toBe(nightId);
    expect(await scrape(app.url)).not.toContain('nightgraph_trusted_document_checks_total{');
  });
});
