import { request } from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realRedis, realServers } from '../support/app.js';
import { fixtures } from '../support/fixtures.js';
import { sample } from '../support/metrics.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { subscribe } from '../support/ws.js';
import { sleep, until } from '../faults/harness.js';
import { processStorage, type ProcessStorage } from '../faults/storage.js';

const PING = 'query Ping { __typename }';
const HOLD = 'mutation Hold($input: HoldTableInput!) { holdTable(input: $input) { id status } }';
const LIVE = 'subscription($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }';

/**
 * One request on a connection of its own, closed after the answer: the cluster primary
 * hands each new connection to the next worker, so a run of these reaches all of them.
 * `sent` resolves once the request is written out (in flight).
 */
function onNewConnection(url: string, options: { body?: unknown; token?: string; timeoutMs?: number } = {}) {
  let written!: () => void;
  const sent = new Promise<void>((resolve) => (written = resolve));
  const response = new Promise<{ status: number; text: string; at: number }>((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = request(url, { method: options.body === undefined ? 'GET' : 'POST', agent: false, headers }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode!, text, at: Date.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.timeoutMs) req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body), written);
  });
  return { sent, response };
}

const scrape = async (server: ServerProcess, timeoutMs?: number) => (await onNewConnection(`${server.base}/metrics`, { timeoutMs }).response).text;

/** GraphQL HTTP requests the host counted, over every operation and outcome (summed across its workers). */
function requestsCounted(metrics: string): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith('nightgraph_graphql_request_duration_seconds_count{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const perWorker = (metrics: string) => [1, 2].map((slot) => sample(metrics, `nightgraph_worker_graphql_requests_total{worker="${slot}"}`));

describe.skipIf(!realServers || !realRedis)(
  'WEB_CONCURRENCY=2 (needs real PostgreSQL and Redis: embedded mode runs one process)',
  () => {
    let storage: ProcessStorage;
    let server: ServerProcess;
    let guest: string;
    beforeAll(async () => {
      storage = await processStorage();
      server = await storage.start({ WEB_CONCURRENCY: '2', SHUTDOWN_TIMEOUT_SECONDS: '10', DB_POOL_MAX: '5' });
      await until('both workers to listen', async () => sample(await scrape(server), 'nightgraph_cluster_workers') === 2, 30_000);
      guest = await storage.token('cluster-guest');
    });
    afterAll(() => storage?.remove());

    it('spreads new connections over both workers, and /metrics counts every request of the host whichever worker serves it', async () => {
      const before = await scrape(server);
      const made = 40;
      for (let i = 0; i < made; i += 1) {
        const answer = await onNewConnection(server.url, { body: { query: PING } }).response;
        expect(JSON.parse(answer.text)).toMatchObject({ data: { __typename: 'Query' } });
      }
      // Several scrapes, each on a new connection, so both workers serve some: all answer alike.
      const scrapes = await Promise.all(Array.from({ length: 4 }, () => scrape(server)));
      for (const after of scrapes) {
        expect(requestsCounted(after) - requestsCounted(before)).toBe(made);
        const served = perWorker(after).map((n, i) => n - perWorker(before)[i]!);
        expect(served.reduce((a, b) => a + b)).toBe(made);
        // The primary deals connections out in turn.
        for (const share of served) expect(share).toBeGreaterThanOrEqual(made / 4);
      }
    });

    it('shows a subscriber on one worker every commit answered by either, versions strictly increasing', async () => {
      const { nightId, tableIds } = await storage.use((handle) => fixtures(handle.db).nightWithTables(6));
      const live = await subscribe(server.url, LIVE, { nightId });
      try {
        await live.until((r) => r.length === 1);
        const before = perWorker(await scrape(server));
        for (const [i, tableId] of tableIds.entries()) {
          const answer = await onNewConnection(server.url, {
            body: { query: HOLD, variables: { input: { nightId, tableId, partySize: 2, idempotencyKey: `cluster-${i}` } } },
            token: guest,
          }).response;
          expect(JSON.parse(answer.text)).toMatchObject({ data: { holdTable: { status: 'HELD' } } });
          // This commit, whichever worker answered it, reaches the subscriber before the next is made.
          await live.until((r) => r.at(-1)?.data?.availabilityChanged.version === i + 1);
        }
        const versions = live.results.map((r) => r.data?.availabilityChanged.version as number);
        expect(versions).toEqual([0, 1, 2, 3, 4, 5, 6]);
        // Both workers answered some of the holds.
        const after = perWorker(await scrape(server));
        for (const [slot, count] of after.entries()) expect(count).toBeGreaterThan(before[slot]!);
      } finally {
        await live.close();
      }
    });

    it('replaces a worker that dies, in its slot, and says so', async () => {
      const pids = [...server.stdout().matchAll(/"slot":(\d+),"pid":(\d+),"msg":"worker listening"/g)].map((m) => Number(m[2]));
      expect(pids).toHaveLength(2);
      process.kill(pids[0]!, 'SIGKILL');
      await until('the worker to be replaced', async () => {
        // A connection the primary hands to the worker as it dies is never answered (the
        // handover is lost with the process), so each try gives up after a while, as a client would.
        const metrics = await scrape(server, 2_000).catch(() => '');
        return metrics !== '' && sample(metrics, 'nightgraph_cluster_worker_restarts_total') === 1 && sample(metrics, 'nightgraph_cluster_workers') === 2;
      }, 20_000);
      expect(server.stdout()).toMatch(/"signal":"SIGKILL","msg":"worker exited unexpectedly"/);
      expect((await onNewConnection(`${server.base}/readyz`).response).status).toBe(200);
    });

    it('drains every worker on SIGTERM to the primary: in-flight requests answered, WebSockets closed with 1001, exit 0 within SHUTDOWN_TIMEOUT_SECONDS', async () => {
      const { nightIds, tableId } = await storage.use(async (handle) => {
        const fx = fixtures(handle.db);
        const club = await fx.club();
        const [table] = await fx.tables(club.id, 1);
        // One night per hold: they run side by side instead of queueing on one night's lock.
        return { nightIds: (await fx.nights(club.id, 4)).map((n) => n.id), tableId: table!.id };
      });
      const nightId = nightIds[0]!;
      // Several dashboards: new connections, so on both workers.
      const closes: (number | undefined)[] = [];
      const clients = Array.from({ length: 4 }, (_, i) => {
        const client = createClient({
          url: server.url.replace(/^http/, 'ws'),
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          on: { closed: (event) => void (closes[i] = (event as { code: number }).code) },
        });
        const results: unknown[] = [];
        client.subscribe({ query: LIVE, variables: { nightId } }, { next: (r) => void results.push(r), error: () => {}, complete: () => {} });
        return { client, results };
      });
      await until('every dashboard to get its snapshot', () => clients.every((c) => c.results.length >= 1));
      // Every round trip to PostgreSQL takes 100 ms more: each hold is in flight for about a second.
      storage.proxy!.delay(50);
      const holds = nightIds.map((night, i) =>
        onNewConnection(server.url, {
          body: { query: HOLD, variables: { input: { nightId: night, tableId, partySize: 2, idempotencyKey: `drain-${i}` } } },
          token: guest,
        }),
      );
      await Promise.all(holds.map((h) => h.sent));
      await sleep(300);
      const signalledAt = Date.now();
      server.signal('SIGTERM');
      const answers = await Promise.all(holds.map((h) => h.response));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.text)).toMatchObject({ data: { holdTable: { status: 'HELD' } } });
      }
      expect(answers.some((a) => a.at > signalledAt)).toBe(true);
      const exit = await server.exited;
      storage.proxy!.delay(0);
      // Exit 0: every worker drained within SHUTDOWN_TIMEOUT_SECONDS (past it, a worker exits 1, and so does the primary).
      expect(exit).toMatchObject({ code: 0, signal: null });
      await until('every dashboard to see the close', () => closes.filter((c) => c !== undefined).length === clients.length);
      expect(closes).toEqual([1001, 1001, 1001, 1001]);
      await Promise.all(clients.map((c) => c.client.dispose()));
      // Each worker stopped on the primary's word, and cleanly.
      expect(server.stdout().match(/"reason":"the cluster primary is shutting down"/g)).toHaveLength(2);
      expect(server.stdout().match(/"code":0,"signal":null,"msg":"worker stopped"/g)).toHaveLength(2);
    });
  },
);

describe('WEB_CONCURRENCY above 1 in embedded mode', () => {
  it('is refused at start with a message naming WEB_CONCURRENCY and why', async () => {
    const started = startServerProcess({ WEB_CONCURRENCY: '2', DATABASE_URL: undefined, REDIS_URL: undefined });
    await expect(started).rejects.toThrow(/server exited with 1/);
    await expect(started).rejects.toThrow(
      /WEB_CONCURRENCY=2 needs DATABASE_URL and REDIS_URL.*PGlite\) is a file only one process may open.*in-process pub\/sub would not carry/,
    );
  });
});
