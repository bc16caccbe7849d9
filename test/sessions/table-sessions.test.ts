import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { realServers, startTestApp, type TestApp } from '../support/app.js';

const OPEN = `mutation($input: OpenTableSessionInput!) { openTableSession(input: $input) { id openedAt closedAt table { label } booking { id } night { id } } }`;
const CLOSE = `mutation($id: ID!) { closeTableSession(id: $id) { id closedAt } }`;
const DEPOSIT = `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { id amount { amountMinor currency } session { id } } }`;
const TABLES = `query($id: ID!) { night(id: $id) { tables { table { label } state session { id deposits { amount { amountMinor } } } latestDeposit { amount { amountMinor } } depositTotal { amountMinor currency } } } }`;

describe('table sessions and deposits', () => {
  let app: TestApp;
  let fx: Fixtures;
  let host: string;
  let nightId: string;
  let tableIds: string[];
  let clubId: string;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
    const club = await fx.club({ currency: 'EUR' });
    clubId = club.id;
    tableIds = (await fx.tables(club.id, 6)).map((t) => t.id);
    nightId = (await fx.nights(club.id, 1))[0]!.id;
    host = await app.token({ subject: 'door-host', roles: ['host'], clubIds: [club.id] });
  });
  afterAll(() => app?.stop());

  const open = (tableIndex: number, extra: Record<string, unknown> = {}) =>
    graphql(app.url, OPEN, { token: host, variables: { input: { nightId, tableId: tableIds[tableIndex], ...extra } } });
  const deposit = (sessionId: string, amountMinor: number, idempotencyKey: string, currency = 'EUR') =>
    graphql(app.url, DEPOSIT, { token: host, variables: { input: { sessionId, amountMinor, currency, idempotencyKey } } });

  it('seats a walk-in, shows the table SEATED, and refuses a second session on it', async () => {
    const opened = await open(0);
    expect(opened.errors).toBeUndefined();
    expect(opened.data.openTableSession).toMatchObject({ closedAt: null, table: { label: 'T1' }, booking: null, night: { id: nightId } });
    const availability = await graphql(app.url, `query($id: ID!) { night(id: $id) { availability { tables { state } } } }`, { variables: { id: nightId } });
    expect(availability.data.night.availability.tables[0].state).toBe('SEATED');
    const again = await open(0);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', state: 'SEATED' });
  });

  it('seats a confirmed booking at its table, and refuses a walk-in at a booked table', async () => {
    const guest = await fx.user();
    const booking = await fx.booking({ nightId, tableId: tableIds[1]!, userId: guest.id, status: 'confirmed' });
    expect(codes(await open(1))).toEqual(['CONFLICT']);
    const seated = await open(1, { bookingId: booking.id });
    expect(seated.errors).toBeUndefined();
    expect(seated.data.openTableSession.booking.id).toBe(booking.id);
    const wrongTable = await open(2, { bookingId: booking.id });
    expect(codes(wrongTable)).toEqual(['BAD_USER_INPUT']);
  });

  it('sums deposits exactly, shows the latest, and does not double a replayed deposit', async () => {
    const session = (await open(3)).data.openTableSession;
    for (const [i, amount] of [1_999, 2_501, 10_000].entries()) {
      expect((await deposit(session.id, amount, `d${i}`)).errors).toBeUndefined();
    }
    const replay = await deposit(session.id, 10_000, 'd2');
    expect(replay.errors).toBeUndefined();
    expect(codes(await deposit(session.id, 5, 'd2'))).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    const tables = (await graphql(app.url, TABLES, { token: host, variables: { id: nightId } })).data.night.tables;
    const row = tables.find((t: any) => t.table.label === 'T4');
    expect(row.depositTotal).toEqual({ amountMinor: 14_500, currency: 'EUR' });
    expect(row.latestDeposit.amount.amountMinor).toBe(10_000);
    expect(row.session.deposits.map((d: any) => d.amount.amountMinor)).toEqual([1_999, 2_501, 10_000]);
  });

  it('refuses bad deposits with BAD_USER_INPUT, and deposits on a closed session with CONFLICT', async () => {
    const session = (await open(4)).data.openTableSession;
    for (const [amount, currency] of [[0, 'EUR'], [-100, 'EUR'], [100, 'eur'], [100, 'USD'], [100, 'EURO']] as const) {
      expect({ amount, currency, codes: codes(await deposit(session.id, amount, `bad-${amount}-${currency}`, currency)) }).toEqual({
        amount,
        currency,
        codes: ['BAD_USER_INPUT'],
      });
    }
    const closed = await graphql(app.url, CLOSE, { token: host, variables: { id: session.id } });
    expect(closed.data.closeTableSession.closedAt).not.toBeNull();
    const twice = await graphql(app.url, CLOSE, { token: host, variables: { id: session.id } });
    expect(twice.data.closeTableSession.closedAt).toBe(closed.data.closeTableSession.closedAt);
    expect(codes(await deposit(session.id, 100, 'late'))).toEqual(['CONFLICT']);
    expect(codes(await deposit('00000000-0000-4000-8000-000000000000', 100, 'nowhere'))).toEqual(['NOT_FOUND']);
    // The table is free again once its session is closed.
    expect((await open(4)).errors).toBeUndefined();
  });

  it('keeps Night.tables at a fixed number of statements for 5 and for 200 tables', async () => {
    const counts: number[] = [];
    for (const size of [5, 200]) {
      const club = await fx.club();
      const tables = await fx.tables(club.id, size);
      const [night] = await fx.nights(club.id, 1);
      const staff = await fx.user();
      for (const table of tables) {
        const session = await fx.tableSession({ nightId: night!.id, tableId: table.id, openedBy: staff.id });
        await fx.deposits(session.id, staff.id, [100, 200]);
      }
      const token = await app.token({ subject: `count-${size}`, roles: ['host'], clubIds: [club.id] });
      const response = await graphql(app.url, TABLES.replace(' deposits { amount { amountMinor } }', ''), { token, variables: { id: night!.id } });
      expect(response.data.night.tables).toHaveLength(size);
      counts.push(response.extensions!.sql!.statements);
    }
    // The night, the caller's staff memberships, the tables with their sessions, the deposit summaries.
    expect(counts).toEqual([4, 4]);
    void clubId;
  });
});

describe.skipIf(!realServers)('deposit races (needs real PostgreSQL: PGlite runs one transaction at a time, so nothing can race)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ DB_POOL_MAX: '20' });
  });
  afterAll(() => app?.stop());

  it('records a deposit sent 20 times at once with one key exactly once, and 20 different ones exactly', async () => {
    const fx = fixtures(app.db);
    const club = await fx.club();
    const [table] = await fx.tables(club.id, 1);
    const [night] = await fx.nights(club.id, 1);
    const staff = await fx.user();
    const session = await fx.tableSession({ nightId: night!.id, tableId: table!.id, openedBy: staff.id });
    const token = await app.token({ subject: 'race-host', roles: ['host'], clubIds: [club.id] });
    const send = (key: string, amountMinor: number) =>
      graphql(app.url, DEPOSIT, { token, variables: { input: { sessionId: session.id, amountMinor, currency: 'EUR', idempotencyKey: key } } });
    const same = await Promise.all(Array.from({ length: 20 }, () => send('one-key', 5_000)));
    expect(same.flatMap((r) => r.errors ?? [])).toEqual([]);
    expect(new Set(same.map((r) => r.data.recordDeposit.id)).size).toBe(1);
    await Promise.all(Array.from({ length: 20 }, (_, i) => send(`key-${i}`, 100 + i)));
    const tables = (await graphql(app.url, TABLES, { token, variables: { id: night!.id } })).data.night.tables;
    // 5,000 once, plus 100 + 101 + … + 119.
    expect(tables[0].depositTotal).toEqual({ amountMinor: 5_000 + 20 * 100 + 190, currency: 'EUR' });
  });
});
