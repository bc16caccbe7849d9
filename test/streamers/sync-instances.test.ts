import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures } from '../support/fixtures.js';
import { sendJson, startHttpServer, type LocalHttpServer } from '../support/http.js';
import { realRedis, realServers } from '../support/app.js';
import { startCluster, type Cluster } from '../support/cluster.js';
import { counterValue } from '../support/metrics.js';

const INTERVAL_S = 10;
const RUN_MS = 60_000;
const STREAMERS = 12;

// Several server processes need a database they can all reach: PGlite lives inside one process.
describe.skipIf(!realServers || !realRedis)('the wishlist schedule across three instances (needs real PostgreSQL and Redis: several server processes share them)', () => {
  let cluster: Cluster;
  let source: LocalHttpServer;
  beforeAll(async () => {
    source = await startHttpServer((request, res) =>
      sendJson(res, 200, { items: [{ id: 'one', title: `Item of ${request.path}`, price: { amountMinor: 500, currency: 'EUR' } }] }),
    );
    cluster = await startCluster({
      WISHLIST_SYNC_INTERVAL_SECONDS: String(INTERVAL_S),
      WISHLIST_SYNC_POLL_SECONDS: '0.5',
      WISHLIST_SYNC_CONCURRENCY: '2',
      OUTBOX_WORKERS: '0',
    });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await source?.close();
  });

  it(
    'syncs each due streamer exactly once per interval for a minute, with no leader',
    async () => {
      await Promise.all([cluster.start(), cluster.start(), cluster.start()]);
      await fixtures(cluster.db).streamers(STREAMERS, (i) => ({ wishlistUrl: `${source.origin}/lists/${i}` }));
      await new Promise((r) => setTimeout(r, RUN_MS));
      const metrics = await Promise.all(cluster.instances.map((i) => i.metrics()));
      await Promise.all(cluster.instances.map((i) => i.stop()));

      for (let i = 0; i < STREAMERS; i++) {
        const times = source.requests.filter((r) => r.path === `/lists/${i}`).map((r) => r.at);
        // Due at once, then one interval after each sync: synced again and again (how soon
        // after it falls due is the bench's figure, not this test's).
        expect(times.length, `streamer ${i}`).toBeGreaterThanOrEqual(RUN_MS / (INTERVAL_S * 1000) - 1);
        const gaps = times.slice(1).map((t, k) => t - times[k]!);
        // Never twice within an interval, whichever instance synced it: a slow machine only
        // makes gaps longer, so this bound holds however fast it is.
        expect(Math.min(...gaps), `streamer ${i} gaps ${gaps}`).toBeGreaterThanOrEqual(INTERVAL_S * 1000 - 50);
      }
      const synced = metrics.map((m) => counterValue(m, 'nightgraph_wishlist_syncs_total{outcome="synced"}'));
      expect(synced.reduce((a, b) => a + b, 0)).toBe(source.requests.length);
      // Every instance claims; none is elected.
      expect(synced.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    },
    RUN_MS + 60_000,
  );
});
