import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { outbox, webhooks } from '../../src/db/schema.js';
import { ownTokenService } from '../../src/platform/tokens.js';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { eventually, sendJson, startHttpServer, type LocalHttpServer } from '../support/http.js';
import { realRedis, realServers } from '../support/app.js';
import { startCluster, type Cluster } from '../support/cluster.js';
import { subscribe } from '../support/ws.js';
import { untilListening } from '../support/notifications.js';

const SEND = `mutation($input: SendCampaignInput!) { sendCampaign(input: $input) { id recipients } }`;

/** A club whose `guests` booked a table, each with a webhook at `receiver`/hooks/<user id>. */
async function bookedClub(cluster: Cluster, guests: number, receiver?: LocalHttpServer) {
  const fx = fixtures(cluster.db);
  const club = await fx.club();
  const [night] = await fx.nights(club.id, 1);
  const [table] = await fx.tables(club.id, 1);
  const users = [];
  for (let i = 0; i < guests; i++) {
    const user = await fx.user();
    await fx.booking({ nightId: night!.id, tableId: table!.id, userId: user.id, status: 'cancelled' });
    if (receiver) await cluster.db.insert(webhooks).values({ userId: user.id, url: `${receiver.origin}/hooks/${user.id}`, secret: `secret-${i}` });
    users.push(user);
  }
  const tokens = ownTokenService(cluster.env.JWT_SECRET!);
  const manager = await tokens.sign({ subject: `manager-${club.id}`, roles: ['manager'], clubIds: [club.id] });
  return { club, users, manager, tokens };
}

// Processes killed and subscribers on other instances need a shared PostgreSQL and Redis.
describe.skipIf(!realServers || !realRedis)('outbox delivery across instances (needs real PostgreSQL and Redis: several server processes share them)', () => {
  let cluster: Cluster | undefined;
  let receiver: LocalHttpServer | undefined;
  afterEach(async () => {
    await cluster?.stop();
    await receiver?.close();
  });

  it('delivers every notification of a worker killed mid-batch, at least once and with the same delivery id', async () => {
    let answering = false;
    const unanswered: ServerResponse[] = [];
    receiver = await startHttpServer((_request, res) => {
      if (answering) return sendJson(res, 204, '');
      unanswered.push(res); // the receiver is slow: the worker dies waiting
    });
    cluster = await startCluster({
      OUTBOX_WORKERS: '1',
      OUTBOX_BATCH_SIZE: '20',
      OUTBOX_CONCURRENCY: '5',
      OUTBOX_LEASE_SECONDS: '3',
      OUTBOX_POLL_MS: '100',
      WISHLIST_SYNC_ENABLED: 'false',
    });
    const first = await cluster.start();
    const { club, users, manager } = await bookedClub(cluster, 40, receiver);

    const sent = await graphql(first.url, SEND, { token: manager, variables: { input: { clubId: club.id, message: 'Tonight' } } });
    expect(sent.data.sendCampaign.recipients).toBe(40);
    await eventually(() => receiver!.requests.length >= 5, 'deliveries in flight');
    first.signal('SIGKILL');
    const inFlight = receiver.requests.map((r) => ({ path: r.path, id: r.headers['nightgraph-delivery'] }));
    answering = true;
    for (const res of unanswered) res.destroy();

    const second = await cluster.start();
    await eventually(async () => (await cluster!.db.select().from(outbox)).every((r) => r.processedAt !== null), 'every row delivered', 20_000);
    const answered = receiver.requests.slice(inFlight.length);
    // Every recipient's webhook got its notification…
    expect(new Set(answered.map((r) => r.path))).toEqual(new Set(users.map((u) => `/hooks/${u.id}`)));
    // …and the ones cut off by the crash came again under the delivery id they had.
    for (const cut of inFlight) {
      expect(answered.filter((r) => r.path === cut.path).map((r) => r.headers['nightgraph-delivery'])).toContain(cut.id);
    }
    const ids = answered.map((r) => r.headers['nightgraph-delivery']);
    expect(new Set(ids).size).toBe(40);
    const progress = await graphql(second.url, `query($id: ID!) { campaign(id: $id) { sent failed pending } }`, {
      token: manager,
      variables: { id: sent.data.sendCampaign.id },
    });
    expect(progress.data.campaign).toEqual({ sent: 40, failed: 0, pending: 0 });
  }, 60_000);

  it('reaches a subscriber connected to an instance that delivers nothing itself', async () => {
    cluster = await startCluster({ OUTBOX_POLL_MS: '100', WISHLIST_SYNC_ENABLED: 'false' });
    const listening = await cluster.start({ OUTBOX_WORKERS: '0' });
    const delivering = await cluster.start({ OUTBOX_WORKERS: '1' });
    const { club, users, manager, tokens } = await bookedClub(cluster, 1);
    const live = await subscribe(listening.url, `subscription { notifications { id kind message club { id } } }`, {}, {
      token: await tokens.sign({ subject: users[0]!.subject, roles: ['guest'], clubIds: [] }),
    });
    await untilListening(cluster, users[0]!.subject, live);
    const sent = await graphql(delivering.url, SEND, { token: manager, variables: { input: { clubId: club.id, message: 'Across' } } });
    expect(sent.errors).toBeUndefined();
    await live.until((results) => results.length === 1, 10_000);
    expect(live.results[0]!.data.notifications).toMatchObject({ kind: 'CAMPAIGN', message: 'Across', club: { id: club.id } });
    await live.close();
  }, 60_000);
});
