import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisPubSub, type PubSub } from '../../src/platform/pubsub.js';
import { connectRedis, type RedisOperation } from '../../src/platform/redis.js';
import { createRedisVersionedStore } from '../../src/platform/versioned-store.js';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { realServers } from '../support/app.js';
import { subscribe, type Subscription } from '../support/ws.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { within } from '../support/bounded.js';
import { freshDatabase, redisServerBinary, sleep, startFaultApp, startPrivateRedis, until, type FaultApp } from './harness.js';

const LIVE = 'subscription($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }';
const READ = 'query($id: ID!) { night(id: $id) { availability { version } } }';
const HOLD = 'mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }';
const VOTES = 'subscription($id: ID!) { voteResultsChanged(sessionId: $id) { version totalVotes } }';
const VOTE = 'mutation($input: CastVoteInput!) { castVote(input: $input) { id } }';

type Live = Subscription<{ availabilityChanged: { version: number } }>;
const versions = (live: Live) => live.results.map((r) => r.data!.availabilityChanged.version);
const latest = (live: Live) => versions(live).at(-1) ?? -1;
const increasing = (seen: number[]) => seen.every((v, i) => i === 0 || v > seen[i - 1]!);

// Each test runs a redis-server of its own behind a TCP proxy that it cuts and restores:
// the machine's Redis is never touched.
describe.skipIf(!redisServerBinary)('pub/sub and the snapshot store without Redis (needs redis-server)', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let proxy: TcpProxy;
  const connections: Redis[] = [];
  beforeAll(async () => {
    redis = await startPrivateRedis();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
  });
  afterEach(() => proxy.restore());
  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await proxy?.close();
    await redis?.stop();
  });

  async function instance(errors: RedisOperation[]) {
    const options = { url: proxy.url(redis.url), commandTimeoutMs: 300 };
    const [commands, subscriber] = await Promise.all([connectRedis(options, 'a'), connectRedis(options, 'a-sub')]);
    connections.push(commands, subscriber);
    const report = (_error: unknown, operation: RedisOperation) => void errors.push(operation);
    return { commands, subscriber, pubsub: createRedisPubSub(commands, subscriber, 'faults:', report), store: createRedisVersionedStore(commands, 'faults:', report) };
  }
  const listen = async (pubsub: PubSub, topic: string) => {
    const received: string[] = [];
    await pubsub.subscribe(topic, (message) => received.push(message));
    return received;
  };

  it('delivers within the instance while Redis is away, once each, and across instances again when it returns', async () => {
    const errors: RedisOperation[] = [];
    const a = await instance(errors);
    const b = await instance([]);
    const onA = await listen(a.pubsub, 'night:1');
    const onB = await listen(b.pubsub, 'night:1');
    await a.pubsub.publish('night:1', 'v1');
    await until('v1 on both', () => onA.length === 1 && onB.length === 1);

    proxy.cut();
    await until('both connections to notice', () => a.commands.status !== 'ready' && a.subscriber.status !== 'ready');
    // Rejected (not queued until Redis returns), so callers that must reach other instances
    // retry; delivered here meanwhile. The bound only guards against a hang.
    const failed = await within(5_000, 'a publish without Redis', a.pubsub.publish('night:1', 'v2').then(() => 'published', () => 'rejected'));
    expect(failed).toBe('rejected');
    expect(onA).toEqual(['v1', 'v2']);
    expect(errors).toContain('publish');
    // A listener that arrives now is kept, and hears this instance's messages.
    const late = { value: await within(5_000, 'a subscribe without Redis', listen(a.pubsub, 'night:2')) };
    await a.pubsub.publish('night:2', 'w1').catch(() => {});
    expect(late.value).toEqual(['w1']);

    proxy.restore();
    await until('both instances to reconnect', () => [a, b].every((i) => i.commands.status === 'ready' && i.subscriber.status === 'ready'));
    await sleep(100);
    // Both topics SUBSCRIBEd again, the late one included.
    await b.pubsub.publish('night:1', 'v3');
    await b.pubsub.publish('night:2', 'w2');
    await until('v3 and w2 on A', () => onA.includes('v3') && late.value.includes('w2'));
    await sleep(100);
    expect(onA).toEqual(['v1', 'v2', 'v3']);
    expect(late.value).toEqual(['w1', 'w2']);
    expect(onB).toEqual(['v1', 'v3']);
  });

  it('writes again what it could not store while Redis was away, so no older entry outlives the outage', async () => {
    const errors: RedisOperation[] = [];
    const a = await instance(errors);
    await a.store.put('snapshot:n', { version: 1, value: 'one' }, 60);
    await a.store.raise('counter:n', 1, 60);
    proxy.cut();
    await until('the connection to notice', () => a.commands.status !== 'ready');
    await a.store.put('snapshot:n', { version: 3, value: 'three' }, 60);
    await a.store.put('snapshot:n', { version: 2, value: 'two' }, 60);
    await a.store.raise('counter:n', 3, 60);
    expect(await a.store.getMany(['snapshot:n'])).toEqual([null]);
    // Its own raises still answer, so its own changes keep their versions.
    expect(await a.store.counters(['counter:n', 'counter:other'])).toEqual([3, null]);
    expect(errors).toEqual(expect.arrayContaining(['store_write', 'store_read']));

    proxy.restore();
    const direct = new Redis(redis.url);
    connections.push(direct);
    await until('the repair', async () => (await direct.get('faults:snapshot:n')) === '3\nthree' && (await direct.get('faults:counter:n')) === '3');
    expect(await a.store.getMany(['snapshot:n'])).toEqual([{ version: 3, value: 'three' }]);
  });
});

// Two app instances share one PostgreSQL database and a private Redis behind a proxy.
describe.skipIf(!realServers || !redisServerBinary)(
  'instances while Redis is unreachable (needs real PostgreSQL, shared by two instances, and redis-server)',
  () => {
    let database: Awaited<ReturnType<typeof freshDatabase>>;
    let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
    let proxy: TcpProxy;
    let a: FaultApp;
    let b: FaultApp;
    let nightId: string;
    let tableIds: string[];
    let token: string;
    let holds = 0;
    beforeAll(async () => {
      database = await freshDatabase();
      redis = await startPrivateRedis();
      proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
      const env = {
        DATABASE_URL: database.url,
        REDIS_URL: proxy.url(redis.url),
        REDIS_COMMAND_TIMEOUT_MS: '300',
        REDIS_KEY_PREFIX: 'nightgraph-faults:',
        JWT_SECRET: 'x'.repeat(40),
        VOTE_PUSH_INTERVAL_MS: '0',
      };
      [a, b] = await Promise.all([startFaultApp(env), startFaultApp(env)]);
      const fx = fixtures(database.direct.db);
      const club = await fx.club();
      tableIds = (await fx.tables(club.id, 12)).map((t) => t.id);
      nightId = (await fx.nights(club.id, 1))[0]!.id;
      token = await a.token('redis-outage-guest');
    });
    afterEach(() => proxy.restore());
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await proxy?.close();
      await redis?.stop();
      await database?.drop();
    });

    const hold = async (through: FaultApp) => {
      const response = await graphql(through.url, HOLD, {
        token,
        variables: { input: { nightId, tableId: tableIds[holds]!, partySize: 2, idempotencyKey: `redis-${holds++}` } },
      });
      expect(response.errors).toBeUndefined();
    };
    const read = async (through: FaultApp) => (await graphql(through.url, READ, { variables: { id: nightId } })).data.night.availability.version as number;
    const readiness = async (app: FaultApp) => (await (await fetch(`${app.base}/readyz`)).json()) as Record<string, unknown>;

    it('answers from PostgreSQL and keeps each instance live while Redis is away, then catches up when it returns', async () => {
      const onA: Live = await subscribe(a.url, LIVE, { nightId });
      const onB: Live = await subscribe(b.url, LIVE, { nightId });
      try {
        await until('the first snapshots', () => latest(onA) === 0 && latest(onB) === 0);
        await hold(a);
        await until('version 1 on both', () => latest(onA) === 1 && latest(onB) === 1);
        expect(await read(b)).toBe(1); // stored in Redis now

        proxy.cut();
        await until('both instances to notice', async () => (await readiness(a)).redis === 'unreachable' && (await readiness(b)).redis === 'unreachable');
        // Degraded, not unready: every instance shares this Redis.
        expect(await readiness(a)).toEqual({ status: 'ready', database: 'postgres', redis: 'unreachable' });
        expect(await within(5_000, 'a read without Redis', read(a))).toBe(1);

        // Changes made through an instance reach its own subscribers at once.
        await hold(a);
        await until('version 2 on A', () => latest(onA) === 2);
        await hold(b);
        await until('version 3 on B', () => latest(onB) === 3);
        // Reads come from PostgreSQL: the latest, on either instance.
        expect(await read(a)).toBe(3);
        expect(await read(b)).toBe(3);
        // A subscriber arriving now gets the current snapshot, then this instance's changes.
        const lateOnA: Live = await subscribe(a.url, LIVE, { nightId });
        try {
          await until('the current snapshot for the late subscriber', () => latest(lateOnA) === 3);
          await hold(a);
          await until('version 4 for the late subscriber', () => latest(lateOnA) === 4);
        } finally {
          await lateOnA.close();
        }
        expect(a.logs.has('Redis connection lost')).toBe(true);
        expect(a.logs.has('Redis calls failed')).toBe(true);

        proxy.restore();
        await until('both instances to reconnect', async () => (await readiness(a)).redis === 'up' && (await readiness(b)).redis === 'up');
        expect(a.logs.has('Redis connection is back')).toBe(true);
        // Redis kept version 1 through the cut; what could not be stored is written now.
        await until('reads to show version 4 on both', async () => (await read(a)) === 4 && (await read(b)) === 4);
        // Subscribers catch up to the current snapshot, and hear the other instance again.
        await until('version 4 on every subscriber', () => latest(onA) === 4 && latest(onB) === 4);
        await sleep(200);
        await hold(b);
        await until('version 5 on A, sent through B', () => latest(onA) === 5);
        await hold(a);
        await until('version 6 on B, sent through A', () => latest(onB) === 6);
        expect(increasing(versions(onA))).toBe(true);
        expect(increasing(versions(onB))).toBe(true);
      } finally {
        await Promise.all([onA.close(), onB.close()]);
      }
    });

    it('keeps live vote results on the instance that took the votes while Redis is away', async () => {
      const fx = fixtures(database.direct.db);
      const club = await fx.club();
      const songs = await fx.songs(club.id, ['One', 'Two']);
      const session = await fx.voteSession(club.id, songs.map((s) => s.id));
      const live = await subscribe<{ voteResultsChanged: { version: number; totalVotes: number } }>(a.url, VOTES, { id: session.id });
      const vote = async (i: number) => {
        const voter = await a.token(`redis-voter-${i}`);
        const cast = await graphql(a.url, VOTE, { token: voter, variables: { input: { sessionId: session.id, songId: songs[i % 2]!.id } } });
        expect(cast.errors).toBeUndefined();
      };
      try {
        await until('the first results', () => live.results.length === 1);
        await vote(0);
        await until('one vote', () => live.results.at(-1)?.data?.voteResultsChanged.totalVotes === 1);
        proxy.cut();
        await until('A to notice', async () => (await readiness(a)).redis === 'unreachable');
        await vote(1);
        await until('two votes, live on A', () => live.results.at(-1)?.data?.voteResultsChanged.totalVotes === 2);
        await vote(2);
        await until('three votes, live on A', () => live.results.at(-1)?.data?.voteResultsChanged.totalVotes === 3);
        proxy.restore();
        await until('A to reconnect', async () => (await readiness(a)).redis === 'up');
        await vote(3);
        await until('four votes', () => live.results.at(-1)?.data?.voteResultsChanged.totalVotes === 4);
        const seen = live.results.map((r) => r.data!.voteResultsChanged.version);
        expect(increasing(seen)).toBe(true);
      } finally {
        await live.close();
      }
    });
  },
);
