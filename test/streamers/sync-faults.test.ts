import type { ServerResponse } from 'node:http';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { outbox, streamers, userStreamers, users, wishlistItems } from '../../src/db/schema.js';
import { fixtures } from '../support/fixtures.js';
import { eventually, sendJson, startHttpServer, type LocalHttpServer } from '../support/http.js';
import { realRedis, realServers } from '../support/app.js';
import { startCluster, type Cluster } from '../support/cluster.js';
import { counterValue } from '../support/metrics.js';
import type { ServerProcess } from '../support/process.js';

const LEASE_S = 3;
const items = (...ids: string[]) => ({ items: ids.map((id) => ({ id, title: `Item ${id}`, price: { amountMinor: 100, currency: 'EUR' } })) });

// Server processes paused and killed mid-sync share one PostgreSQL; PGlite lives inside one process.
describe.skipIf(!realServers || !realRedis)('a sync interrupted on one instance (needs real PostgreSQL and Redis: several server processes share them)', () => {
  let cluster: Cluster;
  let source: LocalHttpServer;
  /** The first request to the source is held here, unanswered, until the test answers it. */
  let held: ServerResponse | undefined;
  let later: unknown;

  beforeEach(async () => {
    held = undefined;
    source = await startHttpServer((_request, res) => {
      if (!held) {
        held = res;
        return;
      }
      sendJson(res, 200, later);
    });
    cluster = await startCluster({
      WISHLIST_SYNC_INTERVAL_SECONDS: '300',
      WISHLIST_SYNC_POLL_SECONDS: '0.25',
      WISHLIST_SYNC_LEASE_SECONDS: String(LEASE_S),
      WISHLIST_SYNC_TIMEOUT_MS: '60000',
      WISHLIST_SYNC_RETRIES: '0',
      OUTBOX_WORKERS: '0',
    });
  }, 60_000);
  afterEach(async () => {
    await cluster?.stop();
    await source?.close();
  });

  /** A streamer tracked by two fans, synced by whichever instance claims it first; returns that one. */
  async function claimedStreamer(): Promise<{ streamerId: string; holder: ServerProcess; others: ServerProcess[] }> {
    await Promise.all([cluster.start(), cluster.start(), cluster.start()]);
    const fx = fixtures(cluster.db);
    const [streamer] = await fx.streamers(1, () => ({ wishlistUrl: `${source.origin}/lists/contested` }));
    for (const subject of ['fan-1', 'fan-2']) {
      const user = await fx.user(subject);
      await cluster.db.insert(userStreamers).values({ userId: user.id, streamerId: streamer!.id });
    }
    await eventually(() => held !== undefined, 'the first sync request');
    const [row] = await cluster.db.select().from(streamers).where(eq(streamers.id, streamer!.id));
    const holder = cluster.instances.find((i) => row!.syncLeaseOwner?.endsWith(`:${i.pid}`));
    if (!holder) throw new Error(`no instance holds the lease (${row!.syncLeaseOwner})`);
    return { streamerId: streamer!.id, holder, others: cluster.instances.filter((i) => i !== holder) };
  }

  async function itemsOf(streamerId: string) {
    const rows = await cluster.db.select().from(wishlistItems).where(eq(wishlistItems.streamerId, streamerId));
    return rows.filter((r) => r.removedAt === null).map((r) => r.externalId).sort();
  }

  it('refuses the late write of an instance paused past its lease; nothing is applied twice', async () => {
    const { streamerId, holder, others } = await claimedStreamer();
    holder.signal('SIGSTOP');
    // The lease runs out; another instance claims the streamer and syncs what the source says now.
    later = items('x', 'y');
    await eventually(async () => (await itemsOf(streamerId)).join() === 'x,y', 'another instance to sync', 15_000);
    const [synced] = await cluster.db.select().from(streamers).where(eq(streamers.id, streamerId));
    expect(synced).toMatchObject({ lastSyncError: null, syncLeaseToken: null });

    // The paused instance wakes up with an older answer in hand and tries to apply it.
    sendJson(held!, 200, items('x', 'stale'));
    holder.signal('SIGCONT');
    await eventually(async () => counterValue(await holder.metrics(), 'nightgraph_wishlist_syncs_total{outcome="stale_lease"}') === 1, 'the stale write to be refused', 15_000);

    expect(await itemsOf(streamerId)).toEqual(['x', 'y']);
    const [after] = await cluster.db.select().from(streamers).where(eq(streamers.id, streamerId));
    expect(after!.lastSyncedAt).toEqual(synced!.lastSyncedAt);
    // One notification per fan per new item, written once.
    const rows = await cluster.db.select().from(outbox);
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((r) => r.dedupKey)).size).toBe(4);
    const otherSyncs = await Promise.all(others.map(async (i) => counterValue(await i.metrics(), 'nightgraph_wishlist_syncs_total{outcome="synced"}')));
    expect(otherSyncs.reduce((a, b) => a + b, 0)).toBe(1);
  }, 60_000);

  it('lets another instance finish the work of one killed mid-sync', async () => {
    const { streamerId, holder } = await claimedStreamer();
    later = items('p', 'q', 'r');
    holder.signal('SIGKILL');
    await eventually(async () => (await itemsOf(streamerId)).join() === 'p,q,r', 'another instance to finish the sync', 15_000);
    const [row] = await cluster.db.select().from(streamers).where(eq(streamers.id, streamerId));
    expect(row).toMatchObject({ lastSyncError: null, syncLeaseToken: null, syncLeaseOwner: null });
    expect(row!.nextSyncAt.getTime()).toBeGreaterThan(Date.now() + 250_000);
    const fans = await cluster.db.select().from(users);
    expect(await cluster.db.select().from(outbox)).toHaveLength(3 * fans.length);
  }, 60_000);
});
