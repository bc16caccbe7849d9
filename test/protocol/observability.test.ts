import { sql } from 'drizzle-orm';
import { inRequest } from '../../src/platform/logger.js';
import { timeStatement } from '../../src/platform/sql-stats.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { subscribe } from '../support/ws.js';
import { realServers } from '../support/app.js';
import { latch } from '../support/bounded.js';
import { counterValue, sample, scrape } from '../support/metrics.js';
import { capturingLogger, createStorage, sleep, startOwnApp, type OwnApp, type Storage } from './support.js';

const SLOW_STATEMENT_MS = 150;
const NIGHT = 'query NightAvailability($id: ID!) { night(id: $id) { id availability { version } } }';
const HOLD = 'mutation Hold($input: HoldTableInput!) { holdTable(input: $input) { id } }';

let storage: Storage;
let app: OwnApp;
const captured = capturingLogger('info');
let nightId: string;
let tableIds: string[];

beforeAll(async () => {
  storage = await createStorage();
  app = await startOwnApp(storage, { logger: captured.logger, env: { SLOW_STATEMENT_MS: String(SLOW_STATEMENT_MS) } });
  const fx = fixtures(app.db);
  const club = await fx.club();
  tableIds = (await fx.tables(club.id, 3)).map((t) => t.id);
  nightId = (await fx.nights(club.id, 1))[0]!.id;
});
afterAll(async () => {
  await app?.stop();
  await storage?.remove();
});

describe('request ids', () => {
  it('returns a new x-request-id when the request has none', async () => {
    const response = await graphql(app.url, '{ __typename }');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const other = await graphql(app.url, '{ __typename }');
    expect(other.headers.get('x-request-id')).not.toBe(response.headers.get('x-request-id'));
  });

  it('echoes a sane incoming x-request-id and replaces anything else', async () => {
    const sane = 'edge-7f3a_01-B';
    expect((await graphql(app.url, '{ __typename }', { headers: { 'x-request-id': sane } })).headers.get('x-request-id')).toBe(sane);
    const longest = 'a'.repeat(128);
    expect((await graphql(app.url, '{ __typename }', { headers: { 'x-request-id': longest } })).headers.get('x-request-id')).toBe(longest);
    for (const insane of ['a'.repeat(129), 'has space', 'semi;colon', 'quote"d', 'ünï']) {
      const id = (await graphql(app.url, '{ __typename }', { headers: { 'x-request-id': insane } })).headers.get('x-request-id');
      expect(id).not.toBe(insane);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('answers refused requests with one too', async () => {
    const response = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'bad-json-1' }, body: '{"query": ' });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-request-id')).toBe('bad-json-1');
  });
});

describe('logs', () => {
  it('are JSON lines; a slow statement is logged with its duration, text and request id, never its parameters', async () => {
    // Hold the nights table for longer than the threshold, so that the request's read of it waits.
    const locked = app.db.transaction(async (tx) => {
      await tx.execute(sql`lock table nights in access exclusive mode`);
      await sleep(SLOW_STATEMENT_MS * 2);
    });
    await sleep(20);
    const response = await graphql(app.url, NIGHT, { variables: { id: nightId }, headers: { 'x-request-id': 'slow-request-1' } });
    await locked;
    expect(response.errors).toBeUndefined();

    const slow = captured.lines.filter((l) => l.msg === 'slow SQL statement' && l.requestId === 'slow-request-1');
    expect(slow.length).toBeGreaterThanOrEqual(1);
    const entry = slow[0]!;
    expect(entry).toMatchObject({ level: 40, service: 'nightgraph', requestId: 'slow-request-1', operation: 'NightAvailability' });
    expect(entry.durationMs).toBeGreaterThanOrEqual(SLOW_STATEMENT_MS);
    expect(typeof entry.time).toBe('number');
    // The statement as sent, placeholders and all, cut to ~200 characters; never the night id.
    expect(entry.statement).toMatch(/^select .*"nights"/);
    expect((entry.statement as string).length).toBeLessThanOrEqual(201);
    expect(JSON.stringify(slow)).not.toContain(nightId);
  });

  it('cut the statement text to ~200 characters, whitespace collapsed', async () => {
    // What the driver wrapper reports for each statement: its text with placeholders ($1…).
    const text = `select   "id",\n  "club_id" from "nights" where "id" = $1 and ${Array.from({ length: 40 }, (_, i) => `"c${i}" = $${i + 2}`).join(' and ')}`;
    await inRequest({ requestId: 'direct-1' }, () => timeStatement(() => sleep(SLOW_STATEMENT_MS + 20), text));
    const entry = captured.lines.find((l) => l.msg === 'slow SQL statement' && l.requestId === 'direct-1');
    expect(entry).toBeDefined();
    expect(entry!.statement).toBe(`${text.replace(/\s+/g, ' ').slice(0, 200)}…`);
    expect(entry!.durationMs).toBeGreaterThanOrEqual(SLOW_STATEMENT_MS);
    expect(entry!).not.toHaveProperty('operation');

    // Fast statements are not logged; statements outside any request carry no request id.
    await inRequest({ requestId: 'direct-2' }, () => timeStatement(() => Promise.resolve(1), 'select 1'));
    expect(captured.lines.some((l) => l.requestId === 'direct-2')).toBe(false);
    await timeStatement(() => sleep(SLOW_STATEMENT_MS + 20), 'select pg_sleep($1)');
    const outside = captured.lines.find((l) => l.statement === 'select pg_sleep($1)');
    expect(outside).toMatchObject({ msg: 'slow SQL statement' });
    expect(outside).not.toHaveProperty('requestId');
  });
});

describe('/metrics', () => {
  it('has request duration by operation and outcome, and SQL statements and time by operation', async () => {
    await graphql(app.url, 'query ClubList { clubs(first: 5) { edges { node { id } } } }');
    await graphql(app.url, 'query ClubList { clubs(first: 5) { edges { node { id nope } } } }'); // invalid: not labelled by its name
    await graphql(app.url, '{ clubs(first: 1) { edges { cursor } } }');
    await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[' });

    const metrics = await scrape(app.url);
    expect(metrics).toMatch(/# TYPE nightgraph_graphql_request_duration_seconds histogram/);
    expect(sample(metrics, 'nightgraph_graphql_request_duration_seconds_count{operation="ClubList",outcome="ok"}')).toBe(1);
    expect(sample(metrics, 'nightgraph_graphql_request_duration_seconds_count{operation="anonymous",outcome="error"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'nightgraph_graphql_request_duration_seconds_count{operation="anonymous",outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'nightgraph_graphql_request_duration_seconds_count{operation="anonymous",outcome="rejected"}')).toBeGreaterThanOrEqual(1);
    // Every request falls in the +Inf bucket; which finite bucket is a figure for the bench.
    expect(sample(metrics, 'nightgraph_graphql_request_duration_seconds_bucket{le="+Inf",operation="ClubList",outcome="ok"}')).toBe(1);
    expect(sample(metrics, 'nightgraph_sql_statements_total{operation="ClubList"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'nightgraph_sql_statement_seconds_total{operation="ClubList"}')).toBeGreaterThan(0);
    expect(metrics).toContain('nightgraph_sql_statements_per_request_count');
  });

  it('counts response-cache hits under the operation, pub/sub messages and snapshot-store lookups', async () => {
    const token = await app.tokens.sign({ subject: 'metrics-guest', roles: ['guest'], clubIds: [] });
    const read = () => graphql(app.url, NIGHT, { variables: { id: nightId } });
    await read();
    const cached = await read();
    expect(cached.extensions).toMatchObject({ responseCache: 'hit' });
    await graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId: tableIds[0], partySize: 2, idempotencyKey: 'm1' } } });

    const metrics = await scrape(app.url);
    expect(sample(metrics, 'nightgraph_cache_lookups_total{cache="response",outcome="hit"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'nightgraph_graphql_request_duration_seconds_count{operation="NightAvailability",outcome="ok"}')).toBeGreaterThanOrEqual(2);
    // A hit or a miss: the other's labelled series may not exist yet.
    expect(counterValue(metrics, 'nightgraph_cache_lookups_total{cache="snapshots",outcome="hit"}') + counterValue(metrics, 'nightgraph_cache_lookups_total{cache="snapshots",outcome="miss"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'nightgraph_pubsub_messages_total{direction="published"}')).toBeGreaterThanOrEqual(1);
  });

  it('has active subscriptions, pub/sub deliveries, the outbox and rate-limit series', async () => {
    const live = await subscribe(app.url, 'subscription { availabilityChanged(nightId: "' + nightId + '") { version } }', {});
    try {
      await live.until((r) => r.length >= 1);
      const token = await app.tokens.sign({ subject: 'metrics-guest-2', roles: ['guest'], clubIds: [] });
      await graphql(app.url, HOLD, { token, variables: { input: { nightId, tableId: tableIds[1], partySize: 2, idempotencyKey: 'm2' } } });
      await live.until((r) => r.length >= 2);
      const metrics = await scrape(app.url);
      expect(sample(metrics, 'nightgraph_subscriptions_active')).toBe(1);
      expect(sample(metrics, 'nightgraph_pubsub_messages_total{direction="delivered"}')).toBeGreaterThanOrEqual(1);
      for (const series of ['nightgraph_outbox_pending', 'nightgraph_outbox_lag_seconds', 'nightgraph_outbox_dead']) {
        expect(metrics).toMatch(new RegExp(`^${series} \\d`, 'm'));
      }
      expect(metrics).toContain('# TYPE nightgraph_rate_limited_total counter');
      expect(sample(metrics, 'nightgraph_db_pool_max')).toBe(app.dbKind === 'postgres' ? app.config.database.kind === 'postgres' && app.config.database.poolMax : 1);
      // Nothing runs between requests.
      expect(sample(metrics, 'nightgraph_db_pool_in_use')).toBe(0);
      expect(sample(metrics, 'nightgraph_db_pool_waiting')).toBe(0);
    } finally {
      await live.close();
    }
  });

  // PGlite is one connection: the scrape's own outbox query would wait behind the open transaction.
  it.skipIf(!realServers)('counts a connection in use while a transaction holds it, and frees it (needs real PostgreSQL: PGlite has no pool)', async () => {
    const holding = latch();
    const release = latch();
    const transaction = app.db.transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      holding.open();
      await release.wait;
    });
    try {
      await holding.wait;
      expect(sample(await scrape(app.url), 'nightgraph_db_pool_in_use')).toBeGreaterThanOrEqual(1);
    } finally {
      release.open();
      await transaction;
    }
    expect(sample(await scrape(app.url), 'nightgraph_db_pool_in_use')).toBe(0);
  });

  it('bounds the operation label: at most 100 names, then "other"', async () => {
    for (let i = 0; i < 105; i += 1) await graphql(app.url, `query Probe${i} { __typename }`);
    const metrics = await scrape(app.url);
    const operations = new Set([...metrics.matchAll(/nightgraph_graphql_request_duration_seconds_count\{operation="([^"]+)"/g)].map((m) => m[1]));
    expect(operations.has('other')).toBe(true);
    expect(operations.has('anonymous')).toBe(true);
    expect([...operations].filter((o) => o !== 'other' && o !== 'anonymous').length).toBeLessThanOrEqual(100);
    expect(sample(metrics, 'nightgraph_graphql_request_duration_seconds_count{operation="other",outcome="ok"}')).toBeGreaterThanOrEqual(5);
  });
});
