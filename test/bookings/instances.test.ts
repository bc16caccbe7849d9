import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { realRedis, realServers, startTestApp, type TestApp } from '../support/app.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { subscribe } from '../support/ws.js';

const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`;
const SUBSCRIPTION = `subscription($nightId: ID!) { availabilityChanged(nightId: $nightId) { version } }`;

// Two server processes on one PostgreSQL database and one Redis, as behind a load balancer.
describe.skipIf(!realServers || !realRedis)('several instances (needs real PostgreSQL and Redis: embedded state lives in one process)', () => {
  let app: TestApp;
  let fx: Fixtures;
  let a: ServerProcess;
  let b: ServerProcess;
  beforeAll(async () => {
    // The in-process app owns the test database; the two instances share it and its Redis prefix.
    app = await startTestApp();
    fx = fixtures(app.db);
    const env = {
      DATABASE_URL: (app.config.database as { url: string }).url,
      REDIS_URL: app.config.redis!.url,
      REDIS_KEY_PREFIX: app.config.redis!.keyPrefix,
      JWT_SECRET: app.config.jwtSecret!,
    };
    [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await app?.stop();
  });

  it('pushes changes committed through either instance to subscribers on both, versions strictly increasing to the latest', async () => {
    const club = await fx.club();
    const tables = await fx.tables(club.id, 6);
    const [night] = await fx.nights(club.id, 1);
    const nightId = night!.id;
    const token = await app.token({ subject: `multi-${randomBytes(4).toString('hex')}` });
    const onA = await subscribe(a.url, SUBSCRIPTION, { nightId });
    const onB = await subscribe(b.url, SUBSCRIPTION, { nightId });
    try {
      await Promise.all([onA, onB].map((s) => s.until((r) => r.length >= 1)));
      for (const [i, table] of tables.entries()) {
        const through = i % 2 === 0 ? a : b;
        const response = await graphql(through.url, HOLD, {
          token,
          variables: { input: { nightId, tableId: table.id, partySize: 2, idempotencyKey: `m${i}` } },
        });
        expect(response.errors).toBeUndefined();
      }
      for (const live of [onA, onB]) {
        await live.until((r) => r.at(-1)?.data?.availabilityChanged.version === 6);
        const seen = live.results.map((r) => r.data!.availabilityChanged.version as number);
        expect(seen[0]).toBe(0);
        expect(seen.every((v, i) => i === 0 || v > seen[i - 1]!)).toBe(true);
      }
    } finally {
      await Promise.all([onA.close(), onB.close()]);
    }
  });

  it('pushes vote results cast through either instance to subscribers on both, ending at the final count', async () => {
    const club = await fx.club();
    const songs = await fx.songs(club.id, ['One', 'Two']);
    const session = await fx.voteSession(club.id, songs.map((s) => s.id));
    const query = `subscription($id: ID!) { voteResultsChanged(sessionId: $id) { version totalVotes } }`;
    const onA = await subscribe(a.url, query, { id: session.id });
    const onB = await subscribe(b.url, query, { id: session.id });
    try {
      await Promise.all([onA, onB].map((s) => s.until((r) => r.length >= 1)));
      for (let i = 0; i < 6; i += 1) {
        const token = await app.token({ subject: `voter-${randomBytes(4).toString('hex')}` });
        const through = i % 2 === 0 ? a : b;
        const cast = await graphql(through.url, `mutation($input: CastVoteInput!) { castVote(input: $input) { id } }`, {
          token,
          variables: { input: { sessionId: session.id, songId: songs[i % 2]!.id } },
        });
        expect(cast.errors).toBeUndefined();
      }
      for (const live of [onA, onB]) {
        await live.until((r) => r.at(-1)?.data?.voteResultsChanged.totalVotes === 6);
        const versions = live.results.map((r) => r.data!.voteResultsChanged.version as number);
        expect(versions.every((v, i) => i === 0 || v > versions[i - 1]!)).toBe(true);
      }
    } finally {
      await Promise.all([onA.close(), onB.close()]);
    }
  });

  it('replays a hold sent to one instance and retried on the other', async () => {
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1);
    const [night] = await fx.nights(club.id, 1);
    const token = await app.token({ subject: `retry-${randomBytes(4).toString('hex')}` });
    const input = { nightId: night!.id, tableId: table!.id, partySize: 2, idempotencyKey: 'retry-elsewhere' };
    const first = await graphql(a.url, HOLD, { token, variables: { input } });
    const retry = await graphql(b.url, HOLD, { token, variables: { input } });
    expect(retry.errors).toBeUndefined();
    expect(retry.data.holdTable.id).toBe(first.data.holdTable.id);
  });

  it('never shows a reader on the other instance a version older than a change it saw committed', async () => {
    const club = await fx.club();
    const tables = await fx.tables(club.id, 10);
    const [night] = await fx.nights(club.id, 1);
    const token = await app.token({ subject: `reader-${randomBytes(4).toString('hex')}` });
    const query = `query($id: ID!) { night(id: $id) { availability { version } } }`;
    for (const [i, table] of tables.entries()) {
      await graphql(a.url, HOLD, { token, variables: { input: { nightId: night!.id, tableId: table.id, partySize: 2, idempotencyKey: `r${i}` } } });
      const read = await graphql(b.url, query, { variables: { id: night!.id } });
      expect(read.data.night.availability.version).toBeGreaterThanOrEqual(i + 1);
    }
  });
});
