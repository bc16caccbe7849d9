import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tables } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { subscribe } from '../support/ws.js';

const CREATE = `mutation($input: CreateTableInput!) { createTable(input: $input) { id label capacity zone x y width height minDeposit { amountMinor currency } retiredAt } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTableInput!) { updateTable(id: $id, input: $input) { id label capacity zone x y } }`;
const ARRANGE = `mutation($input: ArrangeTablesInput!) { arrangeTables(input: $input) { id x y } }`;
const RETIRE = `mutation($id: ID!) { retireTable(id: $id) { id retiredAt } }`;
const HOLD = `mutation($input: HoldTableInput!) { holdTable(input: $input) { id } }`;
const PLAN = `query($id: ID!) { night(id: $id) { availability { version tables { table { label x y } } } } }`;

describe('tables and the floor plan', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp();
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  async function club() {
    const row = await fx.club({ currency: 'EUR' });
    const [night] = await fx.nights(row.id, 1);
    const manager = await app.token({ subject: `plan-manager-${row.slug}`, roles: ['manager'], clubIds: [row.id] });
    const create = (input: Record<string, unknown>) =>
      graphql(app.url, CREATE, { token: manager, variables: { input: { clubId: row.id, capacity: 4, x: 0, y: 0, width: 2, height: 2, ...input } } });
    return { club: row, nightId: night!.id, manager, create };
  }
  const plan = async (nightId: string) => (await graphql(app.url, PLAN, { variables: { id: nightId } })).data.night.availability;

  it('adds tables to the plan, in the club’s currency, and redraws the club’s upcoming nights', async () => {
    const { create, nightId } = await club();
    const before = await plan(nightId);
    const v1 = await create({ label: 'V1', capacity: 6, minDepositMinor: 20_000, zone: 'VIP', x: 0, y: 0, width: 3, height: 2 });
    expect(v1.errors).toBeUndefined();
    expect(v1.data.createTable).toMatchObject({ label: 'V1', capacity: 6, zone: 'VIP', minDeposit: { amountMinor: 20_000, currency: 'EUR' }, retiredAt: null });
    const after = await plan(nightId);
    expect(after.version).toBe(before.version + 1);
    expect(after.tables).toEqual([{ table: { label: 'V1', x: 0, y: 0 } }]);
  });

  it('refuses a label in use with CONFLICT and an overlap with BAD_USER_INPUT naming both tables, writing nothing', async () => {
    const { club: c, create } = await club();
    await create({ label: 'A1', x: 0, y: 0, width: 2, height: 2 });
    // Touching edges is fine.
    expect((await create({ label: 'A2', x: 2, y: 0, width: 2, height: 2 })).errors).toBeUndefined();
    expect(codes(await create({ label: 'A1', x: 10, y: 10 }))).toEqual(['CONFLICT']);
    const overlap = await create({ label: 'A3', x: 0, y: 1, width: 1, height: 2 });
    expect(codes(overlap)).toEqual(['BAD_USER_INPUT']);
    expect(overlap.errors![0]!.message).toMatch(/A1 and A3 overlap/);
    expect(overlap.errors![0]!.extensions).toMatchObject({ tables: ['A1', 'A3'] });
    for (const bad of [{ label: '' }, { capacity: 0 }, { x: -1 }, { width: 0 }, { minDepositMinor: -5 }]) {
      expect(codes(await create({ label: 'OK', x: 20, y: 20, ...bad })), JSON.stringify(bad)).toEqual(['BAD_USER_INPUT']);
    }
    expect((await app.db.select().from(tables).where(eq(tables.clubId, c.id))).map((t) => t.label).sort()).toEqual(['A1', 'A2']);
  });

  it('saves every moved table in one transaction: tables may swap places, and an overlap anywhere moves none', async () => {
    const { club: c, manager, create, nightId } = await club();
    const a = (await create({ label: 'S1', x: 0, y: 0 })).data.createTable;
    const b = (await create({ label: 'S2', x: 4, y: 0 })).data.createTable;
    const live = await subscribe(app.url, `subscription($id: ID!) { availabilityChanged(nightId: $id) { version tables { table { label x } } } }`, { id: nightId });
    try {
      await live.until((r) => r.length === 1);
      const version = live.results[0]!.data.availabilityChanged.version;
      const swapped = await graphql(app.url, ARRANGE, { token: manager, variables: { input: { clubId: c.id, tables: [{ id: a.id, x: 4, y: 0, width: 2, height: 2 }, { id: b.id, x: 0, y: 0, width: 2, height: 2 }] } } });
      expect(swapped.errors).toBeUndefined();
      expect(swapped.data.arrangeTables).toEqual([{ id: a.id, x: 4, y: 0 }, { id: b.id, x: 0, y: 0 }]);
      // The live plan redraws.
      await live.until((r) => r.some((x) => x.data.availabilityChanged.version > version));
      expect(live.results.at(-1)!.data.availabilityChanged.tables).toEqual([{ table: { label: 'S1', x: 4 } }, { table: { label: 'S2', x: 0 } }]);
    } finally {
      await live.close();
    }
    const clash = await graphql(app.url, ARRANGE, { token: manager, variables: { input: { clubId: c.id, tables: [{ id: a.id, x: 10, y: 0, width: 2, height: 2 }, { id: b.id, x: 9, y: 0, width: 2, height: 2 }] } } });
    expect(codes(clash)).toEqual(['BAD_USER_INPUT']);
    expect((await app.db.select().from(tables).where(eq(tables.clubId, c.id))).map((t) => [t.label, t.x]).sort()).toEqual([['S1', 4], ['S2', 0]]);
    const foreign = (await fx.tables((await fx.club()).id, 1))[0]!;
    expect(codes(await graphql(app.url, ARRANGE, { token: manager, variables: { input: { clubId: c.id, tables: [{ id: foreign.id, x: 0, y: 9, width: 1, height: 1 }] } } }))).toEqual(['BAD_USER_INPUT']);
  });

  it('changes a table’s fields, leaving out the ones not given', async () => {
    const { manager, create } = await club();
    const t = (await create({ label: 'U1', zone: 'Bar' })).data.createTable;
    const updated = await graphql(app.url, UPDATE, { token: manager, variables: { id: t.id, input: { capacity: 8 } } });
    expect(updated.data.updateTable).toMatchObject({ label: 'U1', capacity: 8, zone: 'Bar' });
    const cleared = await graphql(app.url, UPDATE, { token: manager, variables: { id: t.id, input: { zone: null, label: 'U2' } } });
    expect(cleared.data.updateTable).toMatchObject({ label: 'U2', capacity: 8, zone: null });
  });

  it('retires a table: off the plan of nights to come, no new holds; refused while a live booking needs it', async () => {
    const { club: c, manager, create, nightId } = await club();
    const t = (await create({ label: 'R1' })).data.createTable;
    await create({ label: 'R2', x: 5 });
    const guest = await app.token({ subject: 'retire-guest' });
    const held = await graphql(app.url, HOLD, { token: guest, variables: { input: { nightId, tableId: t.id, partySize: 2, idempotencyKey: 'r1' } } });
    const refused = await graphql(app.url, RETIRE, { token: manager, variables: { id: t.id } });
    expect(codes(refused)).toEqual(['CONFLICT']);
    expect(refused.errors![0]!.extensions).toMatchObject({ bookingIds: [held.data.holdTable.id] });

    await graphql(app.url, `mutation($id: ID!) { cancelBooking(id: $id) { id } }`, { token: guest, variables: { id: held.data.holdTable.id } });
    const retired = await graphql(app.url, RETIRE, { token: manager, variables: { id: t.id } });
    expect(retired.data.retireTable.retiredAt).not.toBeNull();
    expect((await graphql(app.url, RETIRE, { token: manager, variables: { id: t.id } })).data.retireTable.retiredAt).toBe(retired.data.retireTable.retiredAt);
    expect((await plan(nightId)).tables.map((x: any) => x.table.label)).toEqual(['R2']);
    expect((await graphql(app.url, `query($slug: String!) { club(slug: $slug) { tables { label } } }`, { variables: { slug: c.slug } })).data.club.tables).toEqual([{ label: 'R2' }]);
    expect(codes(await graphql(app.url, HOLD, { token: guest, variables: { input: { nightId, tableId: t.id, partySize: 2, idempotencyKey: 'r2' } } }))).toEqual(['BAD_USER_INPUT']);
    // Its place on the plan is free again.
    expect((await create({ label: 'R3' })).errors).toBeUndefined();
  });

  it('lets only managers of the club change its floor plan', async () => {
    const { club: c, create } = await club();
    const t = (await create({ label: 'M1' })).data.createTable;
    const input = { clubId: c.id, label: 'M2', capacity: 2, x: 9, y: 9, width: 1, height: 1 };
    const host = await app.token({ subject: 'plan-host', roles: ['host'], clubIds: [c.id] });
    const other = await app.token({ subject: 'plan-other', roles: ['manager'], clubIds: [crypto.randomUUID()] });
    expect(codes(await graphql(app.url, CREATE, { variables: { input } }))).toEqual(['UNAUTHENTICATED']);
    for (const token of [host, other]) {
      expect(codes(await graphql(app.url, CREATE, { token, variables: { input } }))).toEqual(['FORBIDDEN']);
      expect(codes(await graphql(app.url, UPDATE, { token, variables: { id: t.id, input: { capacity: 9 } } }))).toEqual(['FORBIDDEN']);
      expect(codes(await graphql(app.url, ARRANGE, { token, variables: { input: { clubId: c.id, tables: [{ id: t.id, x: 3, y: 3, width: 1, height: 1 }] } } }))).toEqual(['FORBIDDEN']);
      expect(codes(await graphql(app.url, RETIRE, { token, variables: { id: t.id } }))).toEqual(['FORBIDDEN']);
    }
    expect((await app.db.select().from(tables).where(eq(tables.clubId, c.id))).map((r) => [r.label, r.capacity, r.x, r.retiredAt])).toEqual([['M1', 4, 0, null]]);
  });
});
