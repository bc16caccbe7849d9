import { asc, desc, eq, like, sql } from 'drizzle-orm';
import { clubs, deposits, nights, tableSessions, tables, users } from '../../src/db/schema.js';
import { insertSelect } from '../database.js';
import { graphqlRequest, type Scenario } from '../scenario.js';

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
  ],

  async prepare({ db, scale, tag, sign }) {
    const now = new Date();
    // Past nights only grow the sessions and deposits tables; the query reads tonight.
    const pastNights = Math.round(4 * scale);

    const [host] = await db.insert(users).values({ subject: `${tag}-host`, displayName: 'Bench host' }).returning();
    const clubRows = await db
      .insert(clubs)
      .values(
        Array.from({ length: CLUBS }, (_, i) => ({
          slug: `${tag}-club-${i + 1}`,
          name: `Bench club ${i + 1}`,
          timezone: 'Europe/Berlin',
        })),
      )
      .returning();
    const ofThisRun = sql`c.slug like ${`${tag}-club-%`}`;

    await insertSelect(
      db,
      tables,
      {
        clubId: sql`c.id`,
        label: sql`'T' || t`,
        capacity: sql`2 + t % 5`,
        minDepositMinor: sql`case when t <= 6 then 50000 else 15000 end`,
        zone: sql`case when t <= 6 then 'VIP' else 'Floor' end`,
        x: sql`(t - 1) % 10 * 4`,
        y: sql`(t - 1) / 10 * 3`,
        width: sql`3`,
        height: sql`2`,
      },
      sql`${clubs} c cross join generate_series(1, ${TABLES_PER_CLUB}::int) t where ${ofThisRun}`,
    );
    // d = 0 is tonight, running now; d > 0 are the nights before.
    await insertSelect(
      db,
      nights,
      {
        clubId: sql`c.id`,
        startsAt: sql`${now.toISOString()}::timestamptz - interval '2 hours' - d * interval '1 day'`,
        endsAt: sql`${now.toISOString()}::timestamptz + interval '4 hours' - d * interval '1 day'`,
      },
      sql`${clubs} c cross join generate_series(0, ${pastNights}::int) d where ${ofThisRun}`,
    );
    // Every table seated every night; only tonight's sessions are still open.
    await insertSelect(
      db,
      tableSessions,
      {
        nightId: sql`n.id`,
        tableId: sql`t.id`,
        openedBy: sql`${host!.id}::uuid`,
        openedAt: sql`n.starts_at + (t.x + t.y) * interval '1 minute'`,
        closedBy: sql`case when n.ends_at < ${now.toISOString()}::timestamptz then ${host!.id}::uuid end`,
        closedAt: sql`case when n.ends_at < ${now.toISOString()}::timestamptz then n.ends_at end`,
      },
      sql`${nights} n join ${tables} t on t.club_id = n.club_id join ${clubs} c on c.id = n.club_id where ${ofThisRun}`,
    );
    // 1–4 deposits per session, spread by a hash of the session id.
    await insertSelect(
      db,
      deposits,
      {
        sessionId: sql`s.id`,
        amountMinor: sql`2500 * k`,
        currency: sql`'EUR'`,
        recordedBy: sql`s.opened_by`,
        recordedAt: sql`s.opened_at + k * interval '10 minutes'`,
        idempotencyKey: sql`s.id || '-' || k`,
        requestHash: sql`'bench'`,
      },
      sql`${tableSessions} s cross join lateral generate_series(1, 1 + abs(hashtext(s.id::text)) % 4) k
          where s.opened_by = ${host!.id}::uuid`,
    );

    const club = clubRows.sort((a, b) => a.slug.localeCompare(b.slug))[0]!;
    const [tonight] = await db
      .select({ id: nights.id })
      .from(nights)
      .where(eq(nights.clubId, club.id))
      .orderBy(desc(nights.startsAt), asc(nights.id))
      .limit(1);
    const token = await sign({ subject: host!.subject, roles: ['host'], clubIds: [club.id] });
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
        await db.delete(users).where(eq(users.id, host!.id));
      },
    };
  },
};

interface NightTablesData {
  night?: {
    tables: { state: string; session: unknown; latestDeposit: unknown; depositTotal: { amountMinor: number } }[];
  };
}
