import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { createStorage, freePort, sleep, startOwnApp, type OwnApp, type Storage } from './support.js';

const SUBSCRIPTION = 'subscription Live($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }';
const HOLD = 'mutation Hold($input: HoldTableInput!) { holdTable(input: $input) { id } }';

type Result = { data?: { availabilityChanged: { version: number } }; errors?: unknown };

async function until(what: string, check: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('a graphql-ws client across a server restart', () => {
  let storage: Storage | undefined;
  let app: OwnApp | undefined;
  let client: Client | undefined;
  afterAll(async () => {
    await client?.dispose();
    await app?.stop();
    await storage?.remove();
  });

  it('reconnects to the restarted server on the same port and receives events again', async () => {
    storage = await createStorage();
    const port = String(await freePort());
    app = await startOwnApp(storage, { env: { PORT: port } });
    const fx = fixtures(app.db);
    const club = await fx.club();
    const tables = await fx.tables(club.id, 3);
    const nightId = (await fx.nights(club.id, 1))[0]!.id;
    const token = await app.tokens.sign({ subject: 'restart-guest', roles: ['guest'], clubIds: [] });

    const connected: number[] = [];
    const closedWith: number[] = [];
    client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 50,
      shouldRetry: () => true,
      retryWait: () => sleep(100),
      on: {
        connected: () => void connected.push(Date.now()),
        closed: (event) => void closedWith.push((event as { code: number }).code),
      },
    });

    // A subscription that the client completes itself.
    const once = client.iterate<Result['data']>({ query: SUBSCRIPTION, variables: { nightId } });
    expect((await once.next()).value).toEqual({ data: { availabilityChanged: { version: 0 } } });
    await once.return!();

    // One that stays, across the restart.
    const results: Result[] = [];
    let failure: unknown;
    let completed = false;
    client.subscribe<Result['data']>(
      { query: SUBSCRIPTION, variables: { nightId } },
      { next: (r) => void results.push(r as Result), error: (e) => void (failure = e), complete: () => void (completed = true) },
    );
    await until('the first snapshot', () => results.length === 1);
    await graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId: tables[0]!.id, partySize: 2, idempotencyKey: 'r1' } } });
    await until('version 1', () => results.some((r) => r.data?.availabilityChanged.version === 1));
    // (The client is lazy: it closed its socket when `once` completed, and opened another.)
    const connections = connected.length;
    const closes = closedWith.length;

    await app.stop(); // closes every socket with 1001 (going away)
    app = undefined;
    await until('the close', () => closedWith.length === closes + 1);
    expect(closedWith.at(-1)).toBe(1001);
    const seenBefore = results.length;

    app = await startOwnApp(storage, { env: { PORT: port } });
    await until('the reconnect', () => connected.length === connections + 1);
    // Resubscribed: the current snapshot first (version 1, from the database), then changes.
    await until('the snapshot after the restart', () => results.length > seenBefore);
    expect(results[seenBefore]!.data!.availabilityChanged.version).toBe(1);
    await graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId: tables[1]!.id, partySize: 2, idempotencyKey: 'r2' } } });
    await until('version 2 from the new server', () => results.some((r) => r.data?.availabilityChanged.version === 2));
    expect(failure).toBeUndefined();
    expect(completed).toBe(false);
    const versions = results.map((r) => r.data!.availabilityChanged.version);
    expect(versions).toEqual([0, 1, 1, 2]);
  });
});
