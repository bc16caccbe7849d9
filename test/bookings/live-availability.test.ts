import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';
import { observeStatements } from '../../src/platform/sql-stats.js';

const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`;
const CANCEL = `mutation($id: ID!) { cancelBooking(id: $id) { id } }`;
const SUBSCRIPTION = `subscription($nightId: ID!) { availabilityChanged(nightId: $nightId) { version freeTables { label } tables { state table { id label } } } }`;

const versions = (results: { data?: any }[]) => results.map((r) => r.data?.availabilityChanged.version as number);

describe('live availability over WebSocket', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  const night = (tables = 3) => fx.nightWithTables(tables);

  it('sends the current snapshot first, then every change with strictly increasing versions', async () => {
    const { nightId, tableIds } = await night();
    const token = await app.token({ subject: 'live-guest' });
    const live = await subscribe(app.url, SUBSCRIPTION, { nightId });
    try {
      await live.until((r) => r.length === 1);
      expect(live.results[0]!.data!.availabilityChanged).toMatchObject({ version: 0, freeTables: [{ label: 'T1' }, { label: 'T2' }, { label: 'T3' }] });
      const held = await graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId: tableIds[0], partySize: 2, idempotencyKey: 'l1' } } });
      await live.until((r) => versions(r).at(-1) === 1);
      expect(live.results.at(-1)!.data!.availabilityChanged.tables[0].state).toBe('HELD');
      await graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId: tableIds[1], partySize: 2, idempotencyKey: 'l2' } } });
      await graphql(app.url, CANCEL, { token, variables: { id: held.data.holdTable.id } });
      await live.until((r) => versions(r).at(-1) === 3);
      const seen = versions(live.results);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size).toBe(seen.length);
      expect(live.results.at(-1)!.data!.availabilityChanged.freeTables.map((t: any) => t.label)).toEqual(['T1', 'T3']);
    } finally {
      await live.close();
    }
  });

  it('gives many subscribers of one night the same results, each ending at the latest version', async () => {
    const { nightId, tableIds } = await night(10);
    const token = await app.token({ subject: 'burst-guest' });
    const subscribers = await Promise.all(Array.from({ length: 25 }, () => subscribe(app.url, SUBSCRIPTION, { nightId })));
    try {
      await Promise.all(subscribers.map((s) => s.until((r) => r.length >= 1)));
      await Promise.all(
        tableIds.map((tableId, i) =>
          graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId, partySize: 2, idempotencyKey: `b${i}` } } }),
        ),
      );
      for (const live of subscribers) {
        await live.until((r) => versions(r).at(-1) === 10);
        const seen = versions(live.results);
        expect(seen.every((v, i) => i === 0 || v > seen[i - 1]!)).toBe(true);
        expect(live.results.at(-1)!.data!.availabilityChanged.freeTables).toEqual([]);
      }
    } finally {
      await Promise.all(subscribers.map((s) => s.close()));
    }
  });

  it('answers an unknown night with NOT_FOUND', async () => {
    const live = await subscribe(app.url, SUBSCRIPTION, { nightId: '00000000-0000-4000-8000-000000000000' });
    try {
      await live.until((r) => r.length === 1);
      expect(live.results[0]!.errors?.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    } finally {
      await live.close();
    }
  });

  it('refuses a WebSocket upgrade from a foreign browser origin', async () => {
    const socket = new WebSocket(app.url.replace(/^http/, 'ws'), 'graphql-transport-ws', { headers: { origin: 'https://evil.example' } });
    const status = await new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
      socket.on('error', () => {});
    });
    expect(status).toBe(403);
  });

  it('closes a connection whose token is invalid with 4403', async () => {
    const socket = new WebSocket(app.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const code = await new Promise<number>((resolve) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer forged' } })));
      socket.on('close', (closeCode) => resolve(closeCode));
    });
    expect(code).toBe(4403);
  });

  it('admits a storm of subscribers with one lookup per night, not one per subscriber; an unknown night is refused', async () => {
    const nights = [await night(2), await night(2)];
    // The admission lookups the app sends meanwhile (the nights by id).
    const lookups: string[] = [];
    const stop = observeStatements((_ms, text) => {
      if (text?.startsWith('select "id", "club_id", "starts_at"') && text.includes('from "nights"')) lookups.push(text);
    });
    const storm = await Promise.all(Array.from({ length: 60 }, (_, i) => subscribe(app.url, SUBSCRIPTION, { nightId: nights[i % 2]!.nightId })));
    try {
      await Promise.all(storm.map((s) => s.until((r) => r.length >= 1)));
      expect(storm.every((s) => s.results[0]!.data?.availabilityChanged.version === 0)).toBe(true);
      // The same again, as after a restart of every client: nothing left to look up.
      const again = await Promise.all(Array.from({ length: 60 }, (_, i) => subscribe(app.url, SUBSCRIPTION, { nightId: nights[i % 2]!.nightId })));
      await Promise.all(again.map((s) => s.until((r) => r.length >= 1)));
      await Promise.all(again.map((s) => s.close()));
      expect(lookups.length).toBeGreaterThan(0);
      expect(lookups.length).toBeLessThanOrEqual(nights.length);
      const unknown = await subscribe(app.url, SUBSCRIPTION, { nightId: '00000000-0000-4000-8000-000000000000' });
      await unknown.until((r) => r.length >= 1);
      expect(unknown.results[0]!.errors![0]!.extensions!.code).toBe('NOT_FOUND');
      await unknown.close();
    } finally {
      stop();
      await Promise.all(storm.map((s) => s.close()));
    }
  });
});
