import { and, desc, eq, like, sql } from 'drizzle-orm';
import { bookings, checkIns, clubs, nights, tables, users } from '../../src/db/schema.js';
import { encodeCursor } from '../../src/graphql/pagination.js';
import { insertSelect } from '../database.js';
import { derivedIds, insertClub, insertTables, insertUser } from '../fixtures.js';
import { guestName, searchFragment } from '../guest-names.js';
import { graphqlRequest } from '../http.js';
import { rotate, shuffle, type BenchRequest, type Scenario } from '../scenario.js';
import { perKind } from './checkin-burst.js';

// A host at the desk paging tonight's bookings, mostly searching by a part of a name.
const QUERY = /* GraphQL */ `
  query($id: ID!, $search: String, $after: String) { night(id: $id) { bookings(search: $search, first: 20, after: $after) {
    edges { cursor node { id status partySize checkedIn table { label } guest { subject displayName } } }
    pageInfo { hasNextPage endCursor } } } }
`;

const PAGE = 20;
const TABLES = 400;
/** Tonight's bookings; as many again on a night next week, by other guests. */
const BOOKINGS = 2_000;
/** Name fragments searched for (3 to 5 letters of guests' names, as a host types them). */
const SEARCHES = 40;
/** Pages a host goes through for one search at most. */
const SEARCH_PAGES = 3;
/** Pages of the whole list (no search). */
const LIST_PAGES = 5;
/** Every 23rd user has no display name: only the subject can match. */
const NAMELESS_EVERY = 23;
/**
 * At scale 1: the platform's other users, with names from the same lists, who did not book
 * tonight. A search must find tonight's guests among the night's bookings, not by reading
 * every user.
 */
const OTHER_USERS = 50_000;
const KINDS = ['search-first', 'search-after', 'list-first', 'list-after'] as const;

/**
 * Booking b (1..2,000) of tonight is on table (b − 1) mod 400 + 1: the first round is each
 * table's live booking (every fourth held, the others confirmed), the rounds after it are
 * cancelled (even b) or expired (odd b). Bookings were made over the two weeks before,
 * two in each 10-minute step at the same millisecond (so pages also turn on the id).
 */
const STATUS_SQL = sql.raw(
  `case when b > ${TABLES} then case when b % 2 = 0 then 'cancelled' else 'expired' end
        when b % 4 = 0 then 'held' else 'confirmed' end`,
);

interface ExpectedNode {
  id: string;
  status: string;
  partySize: number;
  checkedIn: boolean;
  table: { label: string };
  guest: { subject: string; displayName: string | null };
}

interface ExpectedPage {
  hasNextPage: boolean;
  endCursor: string | null;
}

export const nightBookings: Scenario = {
  name: 'night-bookings',
  connections: 16,
  variants: [{ label: 'batched', env: { LOADER_BATCHING: 'true' } }],

  async prepare({ db, scale, tag, sign }) {
    const id = derivedIds(`${tag}-nb`);
    const host = await insertUser(db, `${tag}-nb-host`, 'Bench desk host');
    const clubId = (await insertClub(db, `${tag}-bookings-club`, 'Bench bookings club')).id;
    const now = Date.now();
    const [tonight, nextWeek] = await db
      .insert(nights)
      .values([
        { clubId, startsAt: new Date(now - 3_600_000), endsAt: new Date(now + 5 * 3_600_000) },
        { clubId, startsAt: new Date(now + 7 * 86_400_000 - 3_600_000), endsAt: new Date(now + 7 * 86_400_000 + 5 * 3_600_000) },
      ])
      .returning();

    const nameOf = sql`case when u % ${NAMELESS_EVERY} <> 0 then ${guestName('u')} end`;
    // Guests 1..2,000 booked tonight, 2,001..4,000 next week; the others never booked here.
    const others = Math.round(OTHER_USERS * scale);
    await insertSelect(
      db,
      users,
      {
        id: id('user', 'u'),
        subject: sql`${tag} || case when u <= ${2 * BOOKINGS}::int then '-nb-guest-' else '-nb-user-' end || u`,
        displayName: nameOf,
      },
      sql`generate_series(1, ${2 * BOOKINGS + others}::int) u`,
    );
    await insertTables(db, { id: clubId }, { count: TABLES, perRow: 20, zone: 40, id: id('table', 't') });
    for (const [night, offset] of [
      [tonight!, 0],
      [nextWeek!, BOOKINGS],
    ] as const) {
      await insertSelect(
        db,
        bookings,
        {
          id: id('booking', `(b + ${offset})`),
          nightId: sql`${night.id}::uuid`,
          tableId: id('table', `((b - 1) % ${TABLES} + 1)`),
          userId: id('user', `(b + ${offset})`),
          partySize: sql`1 + b % 8`,
          status: STATUS_SQL,
          holdExpiresAt: sql`case when (${STATUS_SQL}) = 'held' then now() + interval '12 hours' end`,
          idempotencyKey: sql`'nb-' || b`,
          requestHash: sql`'bench'`,
          createdAt: sql`${night.startsAt.toISOString()}::timestamptz - interval '14 days' + (b / 2) * interval '10 minutes'`,
          updatedAt: sql`${night.startsAt.toISOString()}::timestamptz - interval '14 days' + (b / 2) * interval '10 minutes'`,
        },
        sql`generate_series(1, ${BOOKINGS}::int) b`,
      );
    }
    // Every third confirmed booking of tonight came in at the door already.
    await insertSelect(
      db,
      checkIns,
      {
        nightId: sql`${tonight!.id}::uuid`,
        bookingId: id('booking', 'b'),
        gate: sql`'Main'`,
        checkedInBy: sql`${host.id}::uuid`,
        checkedInAt: sql`now() - b * interval '5 seconds'`,
      },
      sql`generate_series(1, ${TABLES}::int) b where b % 4 <> 0 and b % 3 = 0`,
    );

    // What each booking of tonight must look like in an answer, with its cursor.
    const rows = await db
      .select({
        id: bookings.id,
        createdAt: bookings.createdAt,
        status: bookings.status,
        partySize: bookings.partySize,
        label: tables.label,
        subject: users.subject,
        displayName: users.displayName,
        checkedIn: sql<boolean>`exists (select 1 from ${checkIns} c where c.booking_id = ${bookings.id})`,
      })
      .from(bookings)
      .innerJoin(tables, eq(tables.id, bookings.tableId))
      .innerJoin(users, eq(users.id, bookings.userId))
      .where(eq(bookings.nightId, tonight!.id));
    const nodes = new Map<string, { node: ExpectedNode; cursor: string }>();
    for (const r of rows) {
      nodes.set(r.id, {
        node: {
          id: r.id,
          status: r.status.toUpperCase(),
          partySize: r.partySize,
          checkedIn: r.checkedIn,
          table: { label: r.label },
          guest: { subject: r.subject, displayName: r.displayName },
        },
        cursor: encodeCursor([r.createdAt.toISOString(), r.id]),
      });
    }

    // Fragments of real names; none that every subject contains (the run's tag).
    const names = rows.flatMap((r) => (r.displayName ? [r.displayName] : []));
    const common = `${tag}-nb-guest- ${tag}-nb-user-`.toLowerCase();
    const fragments = new Set<string>();
    for (let tries = 0; fragments.size < SEARCHES && tries < 10_000; tries += 1) {
      const words = names[Math.floor(Math.random() * names.length)]!.split(' ');
      const fragment = searchFragment(words[Math.floor(Math.random() * words.length)]!);
      if (fragment.length >= 3 && !common.includes(fragment.toLowerCase())) fragments.add(fragment);
    }

    // The pages of each search, in the server's order, as PostgreSQL matches (ILIKE) them.
    const token = await sign({ subject: host.subject, roles: ['host'], clubIds: [clubId] });
    const pages = new Map<string, ExpectedPage[]>();
    const requests: BenchRequest[] = [];
    const matchCounts: number[] = [];
    for (const search of [null, ...fragments]) {
      const pattern = search === null ? null : `%${search}%`;
      const matched = await db
        .select({ id: bookings.id })
        .from(bookings)
        .innerJoin(users, eq(users.id, bookings.userId))
        .where(
          and(
            eq(bookings.nightId, tonight!.id),
            pattern === null ? undefined : sql`(${users.displayName} ilike ${pattern} or ${users.subject} ilike ${pattern})`,
          ),
        )
        .orderBy(desc(bookings.createdAt), desc(bookings.id));
      if (search !== null) matchCounts.push(matched.length);
      const limit = search === null ? LIST_PAGES : SEARCH_PAGES;
      let after: string | null = null;
      for (let p = 0; p < limit; p += 1) {
        const page = matched.slice(p * PAGE, (p + 1) * PAGE).map((m) => m.id);
        if (page.length === 0 && p > 0) break;
        const endCursor = page.length === 0 ? null : nodes.get(page.at(-1)!)!.cursor;
        const key = page.join(',');
        pages.set(key, [...(pages.get(key) ?? []), { hasNextPage: matched.length > (p + 1) * PAGE, endCursor }]);
        const kind = `${search === null ? 'list' : 'search'}-${after === null ? 'first' : 'after'}`;
        requests.push({ ...graphqlRequest(QUERY, { id: tonight!.id, search, after }, token), key: kind });
        if (endCursor === null || matched.length <= (p + 1) * PAGE) break;
        after = endCursor;
      }
    }
    const next = rotate(shuffle(requests));
    matchCounts.sort((a, b) => a - b);
    process.stderr.write(
      `· night-bookings: ${requests.length} requests over ${fragments.size} searches; a search matches ` +
        `${matchCounts[0]}–${matchCounts.at(-1)} of ${BOOKINGS} bookings (median ${matchCounts[matchCounts.length >> 1]})\n`,
    );

    return {
      next,
      check(data) {
        const connection = (data as BookingsData | null)?.night?.bookings;
        if (!connection) return 'no bookings connection';
        if (connection.edges.length > PAGE) return `${connection.edges.length} edges on a page of ${PAGE}`;
        const key = connection.edges.map((e) => e.node.id).join(',');
        const candidates = pages.get(key);
        if (!candidates) return `no search or page of tonight's bookings is these ${connection.edges.length} bookings`;
        const { hasNextPage, endCursor } = connection.pageInfo;
        if (!candidates.some((c) => c.hasNextPage === hasNextPage && c.endCursor === endCursor)) {
          return `pageInfo ${JSON.stringify(connection.pageInfo)}, expected one of ${JSON.stringify(candidates)}`;
        }
        for (const edge of connection.edges) {
          const expected = nodes.get(edge.node.id)!;
          if (edge.cursor !== expected.cursor) return `booking ${edge.node.id}: cursor ${edge.cursor}, expected ${expected.cursor}`;
          if (JSON.stringify(edge.node) !== JSON.stringify(expected.node)) {
            return `booking ${edge.node.id}: ${JSON.stringify(edge.node)}, expected ${JSON.stringify(expected.node)}`;
          }
        }
        return undefined;
      },
      observe: () => perKind(KINDS),
      async remove() {
        // Tables, nights, bookings and check-ins go with the club; then nothing refers to the guests.
        await db.delete(clubs).where(eq(clubs.id, clubId));
        await db.delete(users).where(like(users.subject, `${tag}-nb-%`));
      },
    };
  },
};

interface BookingsData {
  night: {
    bookings: {
      edges: { cursor: string; node: ExpectedNode }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    } | null;
  } | null;
}
