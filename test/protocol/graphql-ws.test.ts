import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { sample, scrape } from '../support/metrics.js';

const SUBSCRIPTION = 'subscription Live($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }';

/** A bare graphql-transport-ws connection: what the client library hides, sent by hand. */
async function rawSocket(url: string) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as (typeof messages)[number]));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  expect(socket.protocol).toBe('graphql-transport-ws');
  return {
    messages,
    closed,
    send: (message: unknown) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    async next(type: string, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find((m) => m.type === type);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${type} message in ${timeoutMs} ms; got ${JSON.stringify(messages)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () => socket.close(),
  };
}

let app: TestApp;
let nightId: string;
beforeAll(async () => {
  app = await startTestApp();
  const fx = fixtures(app.db);
  const club = await fx.club();
  await fx.tables(club.id, 2);
  nightId = (await fx.nights(club.id, 1))[0]!.id;
});
afterAll(() => app?.stop());

describe('graphql-ws close codes (PROTOCOL.md)', () => {
  it('4400: a malformed message', async () => {
    const ws = await rawSocket(app.url);
    ws.send('this is not JSON');
    expect((await ws.closed).code).toBe(4400);

    const unknownType = await rawSocket(app.url);
    unknownType.send({ type: 'connection_init' });
    await unknownType.next('connection_ack');
    unknownType.send({ type: 'subscribe', payload: { query: '{ __typename }' } }); // no id
    expect((await unknownType.closed).code).toBe(4400);
  });

  it('4401: subscribe before the connection is acknowledged', async () => {
    const ws = await rawSocket(app.url);
    ws.send({ type: 'subscribe', id: '1', payload: { query: SUBSCRIPTION, variables: { nightId } } });
    expect(await ws.closed).toEqual({ code: 4401, reason: 'Unauthorized' });
  });

  it('4403: an invalid token in connectionParams.authorization is refused', async () => {
    const ws = await rawSocket(app.url);
    ws.send({ type: 'connection_init', payload: { authorization: 'Bearer not-a-token' } });
    expect(await ws.closed).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(ws.messages).toEqual([]);
  });

  it('4408: no ConnectionInit within the wait timeout (graphql-ws default, 3 s)', async () => {
    const ws = await rawSocket(app.url);
    const started = Date.now();
    expect(await ws.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
  });

  it('4409: a second subscribe with an operation id that is still running', async () => {
    const ws = await rawSocket(app.url);
    ws.send({ type: 'connection_init' });
    await ws.next('connection_ack');
    const subscribe = { type: 'subscribe', id: 'same', payload: { query: SUBSCRIPTION, variables: { nightId } } };
    ws.send(subscribe);
    expect(await ws.next('next')).toMatchObject({ id: 'same', payload: { data: { availabilityChanged: { version: 0 } } } });
    ws.send(subscribe);
    expect(await ws.closed).toEqual({ code: 4409, reason: 'Subscriber for same already exists' });
  });

  it('4429: a second ConnectionInit', async () => {
    const ws = await rawSocket(app.url);
    ws.send({ type: 'connection_init' });
    await ws.next('connection_ack');
    ws.send({ type: 'connection_init' });
    expect(await ws.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
  });
});

describe('graphql-ws client', () => {
  it('subscribes, receives, completes; the active-subscriptions gauge follows', async () => {
    const client = createClient({ url: app.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const before = sample(await scrape(app.url), 'nightgraph_subscriptions_active');
      const iterator = client.iterate<{ availabilityChanged: { version: number } }>({ query: SUBSCRIPTION, variables: { nightId } });
      const first = await iterator.next();
      expect(first.value).toEqual({ data: { availabilityChanged: { version: 0 } } });
      expect(sample(await scrape(app.url), 'nightgraph_subscriptions_active')).toBe(before + 1);

      await iterator.return!(); // sends Complete
      const deadline = Date.now() + 5_000;
      while (sample(await scrape(app.url), 'nightgraph_subscriptions_active') !== before) {
        if (Date.now() > deadline) throw new Error('the subscription was not counted down');
        await new Promise((r) => setTimeout(r, 20));
      }

      // A query over the same socket is not a subscription: it completes by itself.
      const query = client.iterate<{ __typename: string }>({ query: '{ __typename }' });
      expect((await query.next()).value).toEqual({ data: { __typename: 'Query' } });
      expect((await query.next()).done).toBe(true);
      expect(sample(await scrape(app.url), 'nightgraph_subscriptions_active')).toBe(before);
    } finally {
      await client.dispose();
    }
  });

  it('counts a subscription down when its socket just goes away', async () => {
    const ws = await rawSocket(app.url);
    ws.send({ type: 'connection_init' });
    await ws.next('connection_ack');
    const before = sample(await scrape(app.url), 'nightgraph_subscriptions_active');
    ws.send({ type: 'subscribe', id: 'a', payload: { query: SUBSCRIPTION, variables: { nightId } } });
    await ws.next('next');
    expect(sample(await scrape(app.url), 'nightgraph_subscriptions_active')).toBe(before + 1);
    ws.close();
    await ws.closed;
    const deadline = Date.now() + 5_000;
    while (sample(await scrape(app.url), 'nightgraph_subscriptions_active') !== before) {
      if (Date.now() > deadline) throw new Error('the subscription was not counted down');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
