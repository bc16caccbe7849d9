import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clubStaff } from '../../src/db/schema.js';
import { codes, graphql } from '../support/client.js';
import { fixtures, type Fixtures } from '../support/fixtures.js';
import { startTestApp, type TestApp } from '../support/app.js';

const HOUR = 3_600_000;
type Role = 'anonymous' | 'guest' | 'host' | 'otherHost' | 'manager' | 'removed' | 'admin';
const ROLES: Role[] = ['anonymous', 'guest', 'host', 'otherHost', 'manager', 'removed', 'admin'];

interface Operation {
  name: string;
  /** Who may: everyone else is refused (UNAUTHENTICATED without a token, FORBIDDEN with one). */
  allowed: Role[];
  /** A fresh club (and what the operation needs) for one call. */
  run(ctx: { clubId: string; nightId: string; tableId: string; token: string | undefined; fresh: () => string }): Promise<{ errors?: unknown[]; data?: any }>;
}

describe('who may run a club (every operation against every role)', () => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp({ OUTBOX_WORKERS: '0' });
    fx = fixtures(app.db);
  });
  afterAll(() => app?.stop());

  let sequence = 0;
  const fresh = () => `m${(sequence += 1)}`;
  const call = (query: string, token: string | undefined, variables: Record<string, unknown>) => graphql(app.url, query, { token, variables });

  const operations: Operation[] = [
    { name: 'createClub', allowed: ['admin'], run: ({ token, fresh }) => call(`mutation($i: CreateClubInput!) { createClub(input: $i) { id } }`, token, { i: { slug: `matrix-${fresh()}`, name: 'M', timezone: 'UTC', currency: 'EUR' } }) },
    { name: 'updateClub', allowed: ['manager', 'admin'], run: ({ clubId, token }) => call(`mutation($id: ID!) { updateClub(id: $id, input: { name: "Renamed" }) { id } }`, token, { id: clubId }) },
    { name: 'addStaff', allowed: ['manager', 'admin'], run: ({ clubId, token, fresh }) => call(`mutation($c: ID!, $s: String!) { addStaff(input: { clubId: $c, subject: $s, role: HOST }) { role } }`, token, { c: clubId, s: fresh() }) },
    { name: 'removeStaff', allowed: ['manager', 'admin'], run: ({ clubId, token, fresh }) => call(`mutation($c: ID!, $s: String!) { removeStaff(clubId: $c, subject: $s) }`, token, { c: clubId, s: fresh() }) },
    { name: 'Club.staff', allowed: ['manager', 'admin'], run: async ({ clubId, token }) => {
      const slug = (await app.db.query.clubs.findFirst({ where: (c, { eq }) => eq(c.id, clubId) }))!.slug;
      return call(`query($s: String!) { club(slug: $s) { staff { role } } }`, token, { s: slug });
    } },
    { name: 'createTable', allowed: ['manager', 'admin'], run: ({ clubId, token }) => call(`mutation($c: ID!) { createTable(input: { clubId: $c, label: "N1", capacity: 2, x: 40, y: 40, width: 1, height: 1 }) { id } }`, token, { c: clubId }) },
    { name: 'updateTable', allowed: ['manager', 'admin'], run: ({ tableId, token }) => call(`mutation($id: ID!) { updateTable(id: $id, input: { capacity: 3 }) { id } }`, token, { id: tableId }) },
    { name: 'arrangeTables', allowed: ['manager', 'admin'], run: ({ clubId, tableId, token }) => call(`mutation($c: ID!, $t: ID!) { arrangeTables(input: { clubId: $c, tables: [{ id: $t, x: 30, y: 30, width: 2, height: 2 }] }) { id } }`, token, { c: clubId, t: tableId }) },
    { name: 'retireTable', allowed: ['manager', 'admin'], run: ({ tableId, token }) => call(`mutation($id: ID!) { retireTable(id: $id) { id } }`, token, { id: tableId }) },
    { name: 'scheduleNight', allowed: ['manager', 'admin'], run: ({ clubId, token }) => call(`mutation($c: ID!, $s: DateTime!, $e: DateTime!) { scheduleNight(input: { clubId: $c, startsAt: $s, endsAt: $e }) { id } }`, token, { c: clubId, s: new Date(Date.now() + 100 * HOUR).toISOString(), e: new Date(Date.now() + 104 * HOUR).toISOString() }) },
    { name: 'updateNight', allowed: ['manager', 'admin'], run: ({ nightId, token }) => call(`mutation($id: ID!, $e: DateTime!) { updateNight(id: $id, input: { endsAt: $e }) { id } }`, token, { id: nightId, e: new Date(Date.now() + 5 * HOUR).toISOString() }) },
    { name: 'cancelNight', allowed: ['manager', 'admin'], run: ({ nightId, token }) => call(`mutation($id: ID!) { cancelNight(id: $id, reason: "matrix") { id } }`, token, { id: nightId }) },
    { name: 'addGuests', allowed: ['manager', 'admin'], run: ({ nightId, token }) => call(`mutation($n: ID!) { addGuests(input: { nightId: $n, guests: [{ name: "A" }] }) { id } }`, token, { n: nightId }) },
    { name: 'Night.bookings', allowed: ['host', 'manager', 'admin'], run: ({ nightId, token }) => call(`query($id: ID!) { night(id: $id) { bookings { edges { node { id } } } } }`, token, { id: nightId }) },
    { name: 'Night.report', allowed: ['manager', 'admin'], run: ({ nightId, token }) => call(`query($id: ID!) { night(id: $id) { report { version } } }`, token, { id: nightId }) },
  ];

  /** A club with a night and a table, and a token per role for it. */
  async function club(): Promise<{ clubId: string; nightId: string; tableId: string; tokens: Record<Role, string | undefined> }> {
    const row = await fx.club();
    const [night] = await fx.nights(row.id, 1, new Date(Date.now() + 2 * HOUR));
    const [table] = await fx.tables(row.id, 1);
    const removed = await fx.user(`removed-${row.id}`);
    return {
      clubId: row.id,
      nightId: night!.id,
      tableId: table!.id,
      tokens: {
        anonymous: undefined,
        guest: await app.token({ subject: `guest-${row.id}` }),
        host: await app.token({ subject: `host-${row.id}`, roles: ['host'], clubIds: [row.id] }),
        otherHost: await app.token({ subject: `other-${row.id}`, roles: ['host', 'manager'], clubIds: [crypto.randomUUID()] }),
        manager: await app.token({ subject: `manager-${row.id}`, roles: ['manager'], clubIds: [row.id] }),
        // Removed after this token was issued: the token names the club, the removal outweighs it.
        removed: await app.token({ subject: removed.subject, roles: ['manager'], clubIds: [row.id] }).then(async (token) => {
          await app.db.insert(clubStaff).values({ clubId: row.id, userId: removed.id, role: 'manager', removedAt: new Date() });
          return token;
        }),
        admin: await app.token({ subject: 'matrix-admin', roles: ['admin'] }),
      },
    };
  }

  for (const operation of operations) {
    it(`${operation.name}: ${operation.allowed.join(', ')} may; the others are refused`, async () => {
      for (const role of ROLES) {
        const { tokens, ...ids } = await club();
        const answer = await operation.run({ ...ids, token: tokens[role], fresh });
        const outcome = codes(answer as never);
        if (operation.allowed.includes(role)) expect(outcome, `${role} may ${operation.name}`).toEqual([]);
        else expect(outcome, `${role} may not ${operation.name}`).toEqual([role === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN']);
      }
    });
  }
});
