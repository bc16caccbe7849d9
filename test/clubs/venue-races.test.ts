import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookings, nights, outbox, tables, users } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { deleteKeys, realRedis, realServers, startTestApp, type TestApp } from '../support/app.js';
import { freshDatabase, startFaultApp, type FaultApp } from '../faults/harness.js';

const HOUR = 3_600_000;
const at = (hoursFromNow: number) => new Date(Math.ceil(Date.now() / HOUR) * HOUR + hoursFromNow * HOUR).toISOString();
const SCHEDULE = `mutation($input: ScheduleNightInput!) { scheduleNight(input: $input) { id } }`;
const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id status } }`;

describe.skipIf(!realServers)('venue operations racing (needs real PostgreSQL: PGlite runs one transaction at a time, so nothing can race)', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp({ DB_POOL_MAX: '20', DB_POOL_WAIT_TIMEOUT_MS: '30000', OUTBOX_WORKERS: '0' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  it('schedules exactly one of 20 concurrent overlapping nights; the other 19 get CONFLICT', async () => {
    const club = await fx.club();
    const manager = await app.token({ subject: 'race-scheduler', roles: ['manager'], clubIds: [club.id] });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        graphql(app.url, SCHEDULE, { token: manager, variables: { input: { clubId: club.id, startsAt: at(24 + (i % 3)), endsAt: at(30 + (i % 3)) } } }),
      ),
    );
    expect(answers.filter((a) => !a.errors)).toHaveLength(1);
    expect(answers.flatMap((a) => codes(a))).toEqual(Array(19).fill('CONFLICT'));
    expect(await app.db.select().from(nights).where(eq(nights.clubId, club.id))).toHaveLength(1);
  });

  it('never leaves a live booking on a retired table when retiring races a hold', async () => {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const manager = await app.token({ subject: 'race-retirer', roles: ['manager'], clubIds: [club.id] });
    const guest = await app.token({ subject: 'race-holder' });
    const round = await fx.tables(club.id, 20);
    const outcomes = await Promise.all(
      round.map(async (table, i) => {
        const [retire, hold] = await Promise.all([
          graphql(app.url, `mutation($id: ID!) { retireTable(id: $id) { id } }`, { token: manager, variables: { id: table.id } }),
          graphql(app.url, HOLD, { token: guest, variables: { input: { nightId: night!.id, tableId: table.id, partySize: 2, idempotencyKey: `rr${i}` } } }),
        ]);
        return { retired: !retire.errors, held: !hold.errors, codes: [...codes(retire), ...codes(hold)] };
      }),
    );
    // Exactly one of the two wins each table: a retirement refused for the hold, or a hold refused for the retirement.
    for (const outcome of outcomes) {
      expect(outcome.retired !== outcome.held, JSON.stringify(outcome)).toBe(true);
      expect(outcome.codes).toEqual([outcome.retired ? 'BAD_USER_INPUT' : 'CONFLICT']);
    }
    const live = await app.db
      .select({ id: bookings.id })
      .from(bookings)
      .innerJoin(tables, eq(tables.id, bookings.tableId))
      .where(and(eq(tables.clubId, club.id), isNotNull(tables.retiredAt), inArray(bookings.status, ['held', 'confirmed'])));
    expect(live).toEqual([]);
  });

  it('leaves no held or confirmed booking when a cancellation races 200 holds, and tells each guest whose hold succeeded once', async () => {
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const tableRows = await fx.tables(club.id, 200, { capacity: 4 });
    const manager = await app.token({ subject: 'race-canceller', roles: ['manager'], clubIds: [club.id] });
    const guests = await Promise.all(tableRows.map((_, i) => app.token({ subject: `race-guest-${club.id}-${i}` })));
    let answered = 0;
    const holds = guests.map((token, i) =>
      graphql(app.url, HOLD, { token, variables: { input: { nightId: night!.id, tableId: tableRows[i]!.id, partySize: 2, idempotencyKey: 'race' } } }).finally(() => {
        answered += 1;
      }),
    );
    // Cancel once some holds are in: the rest race it.
    while (answered < 20) await new Promise((r) => setTimeout(r, 5));
    const cancelled = await graphql(app.url, `mutation($id: ID!) { cancelNight(id: $id, reason: "Flood") { status } }`, { token: manager, variables: { id: night!.id } });
    expect(cancelled.errors).toBeUndefined();
    const answers = await Promise.all(holds);
    const succeeded = answers.flatMap((a, i) => (a.errors ? [] : [`race-guest-${club.id}-${i}`]));
    expect(answers.flatMap((a) => codes(a)).every((c) => c === 'BAD_USER_INPUT')).toBe(true);
    expect(succeeded.length).toBeGreaterThan(0);

    const liveRows = await app.db.select().from(bookings).where(and(eq(bookings.nightId, night!.id), inArray(bookings.status, ['held', 'confirmed'])));
    expect(liveRows).toEqual([]);
    const notices = await app.db
      .select({ subject: users.subject })
      .from(outbox)
      .innerJoin(users, sql`${users.id}::text = ${outbox.payload}->>'userId'`)
      .where(sql`${outbox.payload}->>'nightId' = ${night!.id}`);
    expect(notices.map((n) => n.subject).sort()).toEqual([...succeeded].sort());
  });
});

describe.skipIf(!realServers || !realRedis)('staff removal across instances (needs real PostgreSQL and Redis: two instances share them)', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let a: FaultApp;
  let b: FaultApp;
  beforeAll(async () => {
    database = await freshDatabase();
    const env = { DATABASE_URL: database.url, REDIS_URL: process.env.REDIS_URL!, JWT_SECRET: 'y'.repeat(40), REDIS_KEY_PREFIX: prefix };
    [a, b] = await Promise.all([startFaultApp(env), startFaultApp(env)]);
  });
  const prefix = `nightgraph-test:${crypto.randomUUID()}:`;
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
    if (realRedis) await deleteKeys(process.env.REDIS_URL!, prefix);
  });

  it('refuses a removed host on their next request on the other instance', async () => {
    const fx = fixtures(database.direct.db);
    const club = await fx.club();
    const [night] = await fx.nights(club.id, 1);
    const manager = await a.token('cross-manager', ['manager'], [club.id]);
    const host = await a.token('cross-host');
    const tablesOf = (through: FaultApp) => graphql(through.url, `query($id: ID!) { night(id: $id) { tables { state } } }`, { token: host, variables: { id: night!.id } });
    await graphql(a.url, `mutation($input: AddStaffInput!) { addStaff(input: $input) { role } }`, { token: manager, variables: { input: { clubId: club.id, subject: 'cross-host', role: 'HOST' } } });
    expect((await tablesOf(b)).errors).toBeUndefined();
    expect((await graphql(a.url, `mutation($c: ID!, $s: String!) { removeStaff(clubId: $c, subject: $s) }`, { token: manager, variables: { c: club.id, s: 'cross-host' } })).data.removeStaff).toBe(true);
    expect(codes(await tablesOf(b))).toEqual(['FORBIDDEN']);
    expect(codes(await tablesOf(a))).toEqual(['FORBIDDEN']);
  });
});
