import { asc, desc, eq, like } from 'drizzle-orm';
import { clubs, nights, users } from '../../src/db/schema.js';
import { insertClubs, insertDeposits, insertNights, insertTables, insertUser, seatTables } from '../fixtures.js';
import { graphqlRequest } from '../http.js';
import type { Scenario } from '../scenario.js';

// The host's floor view: every table of tonight with its party, last deposit and total.
const query = /* GraphQL */ `
  query NightTables($id: ID!) {
    night(id: $id) {
      id
      tables {
        table { id label capacity }
        state
        session { id openedAt }
        latestDeposit { id amount { amountMinor currency } }
        depositTotal { amountMinor currency }
      }
    }
  }
`;

const CLUBS = 5;
const TABLES_PER_CLUB = 30;

export const nightTables: Scenario = {
  name: 'night-tables',
  variants: [
    { label: 'batched', env: { LOADER_BATCHING: 'true' } },
    { label: 'naive', env: { LOADER_BATCHING: 'false' } },
    // The same statements by hand through postgres.js and node:http: the room left.
    { label: 'floor', env: {}, floor: 'bench/floors/night-tables.ts' },
    // Tracing on: a span per request and per statement, exported over OTLP to a local sink.
    { label: 'traced', env: { LOADER_BATCHING: 'true' }, traced: true },
  ],

  async prepare({ db, scale, tag, sign }) {
    const now = new Date().toISOString();
    // Past nights only grow the sessions and deposits tables; the query reads tonight.
    const pastNights = Math.round(4 * scale);

    const host = await insertUser(db, `${tag}-host`, 'Bench host');
    const run = await insertClubs(db, tag, CLUBS);
    await insertTables(db, run, { count: TABLES_PER_CLUB, perRow: 10, zone: 6, minDeposit: { vipTables: 6, vip: 50_000, floor: 15_000 } });
    await insertNights(db, run, { now, count: 1 + pastNights, toward: 'before' });
    // Every table seated every night; only tonight's sessions are still open.
    await seatTables(db, run, { hostId: host.id, now });
    await insertDeposits(db, host.id, 'EUR');

    const [club] = await db.select({ id: clubs.id }).from(clubs).where(eq(clubs.slug, `${tag}-club-1`));
    const [tonight] = await db
      .select({ id: nights.id })
      .from(nights)
      .where(eq(nights.clubId, club!.id))
      .orderBy(desc(nights.startsAt), asc(nights.id))
      .limit(1);
    const token = await sign({ subject: host.subject, roles: ['host'], clubIds: [club!.id] });
    const request = graphqlRequest(query, { id: tonight!.id }, token);

    return {
      next: () => request,
      check(data) {
        const rows = (data as NightTablesData | null)?.night?.tables;
        if (rows?.length !== TABLES_PER_CLUB) return `expected ${TABLES_PER_CLUB} tables, got ${rows?.length}`;
        const unseated = rows.filter((r) => r.state !== 'SEATED' || !r.session || !r.latestDeposit);
        if (unseated.length > 0) return `${unseated.length} tables are not seated with a deposit`;
        if (rows.some((r) => r.depositTotal.amountMinor <= 0)) return 'a seated table has no deposit total';
        return undefined;
      },
      async remove() {
        // Tables, nights, sessions and deposits go with their club; then nothing refers to the host.
        await db.delete(clubs).where(like(clubs.slug, `${tag}-club-%`));
        await db.delete(users).where(eq(users.id, host.id));
      },
    };
  },
};

interface NightTablesData {
  night?: {
    tables: { state: string; session: unknown; latestDeposit: unknown; depositTotal: { amountMinor: number } }[];
  };
}
