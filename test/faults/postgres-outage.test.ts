import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_UNAVAILABLE } from '../../src/db/client.js';
import { graphql } from '../support/client.js';
import { fixtures } from '../support/fixtures.js';
import { realServers } from '../support/app.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { freshDatabase, startFaultApp, timed, until, type FaultApp } from './harness.js';

const NIGHT = 'query($id: ID!) { night(id: $id) { id startsAt } }';
const HOLD = 'mutation($input: HoldTableInput!) { holdTable(input: $input) { id status } }';
/** Far above every bound below: a request that failed fast did not wait for it. */
const STATEMENT_TIMEOUT_MS = 20_000;

const failure = (query: PromiseLike<unknown>) =>
  Promise.resolve(query).then(
    () => 'answered',
    (error: unknown) => {
      const messages: string[] = [];
      for (let e = error as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) messages.push(String(e.message));
      return messages.join(' <- ');
    },
  );
const readiness = async (app: FaultApp) => {
  const response = await fetch(`${app.base}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

// The app reaches PostgreSQL through a TCP proxy the test cuts and restores; the machine's
// PostgreSQL itself is never touched. PGlite runs inside the process: nothing to cut.
describe.skipIf(!realServers)('PostgreSQL unreachable, then back (needs real PostgreSQL: PGlite cannot be cut off)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let proxy: TcpProxy;
  let app: FaultApp;
  let nightId: string;
  let tableIds: string[];
  let guest: string;
  let holds = 0;
  beforeAll(async () => {
    database = await freshDatabase();
    const target = new URL(process.env.DATABASE_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    app = await startFaultApp({
      DATABASE_URL: proxy.url(database.url),
      DB_CONNECT_TIMEOUT_S: '2',
      DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
    });
    const fx = fixtures(database.direct.db);
    const club = await fx.club();
    tableIds = (await fx.tables(club.id, 20)).map((t) => t.id);
    nightId = (await fx.nights(club.id, 1))[0]!.id;
    guest = await app.token('outage-guest');
  });
  afterEach(() => proxy.restore());
  afterAll(async () => {
    await app?.stop();
    await proxy?.close();
    await database?.drop();
  });

  const hold = () =>
    graphql(app.url, HOLD, {
      token: guest,
      variables: { input: { nightId, tableId: tableIds[holds]!, partySize: 2, idempotencyKey: `outage-${holds++}` } },
    });

  it('fails requests at once with a clear error while PostgreSQL refuses, says not ready, and recovers by itself', async () => {
    expect((await graphql(app.url, NIGHT, { variables: { id: nightId } })).errors).toBeUndefined();
    expect((await readiness(app)).status).toBe(200);

    proxy.cut();
    const first = await timed(() => graphql(app.url, NIGHT, { variables: { id: nightId } }));
    expect(first.value.errors?.[0]).toMatchObject({ message: DATABASE_UNAVAILABLE, extensions: { code: 'INTERNAL_SERVER_ERROR', reason: 'DATABASE_UNAVAILABLE' } });
    expect(first.ms).toBeLessThan(1_000);
    // The caller of the database (a service, the log) gets the reason in clear.
    const direct = await timed(() => failure(app.db.execute(sql`select 1`)));
    expect(direct.value).toContain(DATABASE_UNAVAILABLE);
    expect(direct.ms).toBeLessThan(1_000);

    await until('/readyz to say not ready', async () => (await readiness(app)).status === 503, 3_000);
    const notReady = await timed(() => readiness(app));
    expect(notReady.value).toEqual({ status: 503, body: { status: 'unavailable', database: 'unreachable', redis: 'embedded' } });
    expect(notReady.ms).toBeLessThan(200);
    const health = await timed(() => fetch(`${app.base}/healthz`));
    expect(health.value.status).toBe(200);
    expect(health.ms).toBeLessThan(100);
    // Known down: nothing waits, not even for a connection attempt.
    for (let i = 0; i < 5; i += 1) {
      const refused = await timed(() => hold());
      expect(refused.value.errors?.[0]).toMatchObject({ message: DATABASE_UNAVAILABLE, extensions: { reason: 'DATABASE_UNAVAILABLE' } });
      expect(refused.ms).toBeLessThan(200);
    }
    expect(app.logs.has('PostgreSQL is unreachable')).toBe(true);

    proxy.restore();
    await until('/readyz to say ready again', async () => (await readiness(app)).status === 200, 5_000);
    expect(app.logs.has('PostgreSQL answers again')).toBe(true);
    expect((await graphql(app.url, NIGHT, { variables: { id: nightId } })).data.night.id).toBe(nightId);
    const held = await hold();
    expect(held.errors).toBeUndefined();
    expect(held.data.holdTable.status).toBe('HELD');
  });

  it('fails fast on a network that silently drops everything, long before the statement timeout, and recovers', async () => {
    expect((await graphql(app.url, NIGHT, { variables: { id: nightId } })).errors).toBeUndefined();
    proxy.cut({ silently: true });
    // Unanswered for a second, the pool checks PostgreSQL on a connection of its own; that
    // check times out, and everything waiting fails.
    const first = await timed(() => graphql(app.url, NIGHT, { variables: { id: nightId } }));
    expect(first.value.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(first.ms).toBeLessThan(6_000);
    const next = await timed(() => failure(app.db.execute(sql`select 1`)));
    expect(next.value).toContain(DATABASE_UNAVAILABLE);
    expect(next.ms).toBeLessThan(200);
    const notReady = await timed(() => readiness(app));
    expect(notReady.value.status).toBe(503);
    expect(notReady.ms).toBeLessThan(200);

    proxy.restore();
    await until('/readyz to say ready again', async () => (await readiness(app)).status === 200, 6_000);
    const held = await hold();
    expect(held.errors).toBeUndefined();
  });

  it('leaves no mutation half-applied when the line is cut under it', async () => {
    proxy.delay(100);
    const pending = hold();
    await new Promise((r) => setTimeout(r, 350));
    proxy.cut();
    const outcome = await pending;
    proxy.delay(0);
    proxy.restore();
    // Every hold bumps the night's version in its own transaction: both or neither.
    const [counts] = (await database.direct.db.execute(
      sql`select n.availability_version as version, (select count(*)::int from bookings b where b.night_id = n.id) as bookings
            from nights n where n.id = ${nightId}`,
    )) as unknown as [{ version: number; bookings: number }];
    expect(Number(counts.version)).toBe(counts.bookings);
    if (outcome.errors === undefined) {
      const [row] = (await database.direct.db.execute(sql`select status from bookings where id = ${outcome.data.holdTable.id}`)) as unknown as [
        { status: string },
      ];
      expect(row.status).toBe('held');
    }
  });
});
