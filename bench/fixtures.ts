import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../src/db/client.js';
import { bookings, clubs, deposits, nights, tableSessions, tables, users } from '../src/db/schema.js';
import { insertSelect } from './database.js';
import type { ScenarioContext } from './scenario.js';

// The rows most data sets are made of: users, clubs with their tables, nights, the parties
// seated at the tables and their deposits, generated in SQL, and the tokens of the guests.

/** The clubs a fixture fills: one, by id, or every club whose slug is `like` a pattern. */
export type ClubSet = { id: string } | { slugLike: string };

/** One user, e.g. the host who seats the parties. */
export async function insertUser(db: Database, subject: string, displayName: string) {
  const [user] = await db.insert(users).values({ subject, displayName }).returning();
  return user!;
}

/** One club in Berlin's time zone, in the default currency unless `currency` says otherwise. */
export async function insertClub(db: Database, slug: string, name: string, currency?: string) {
  const [club] = await db
    .insert(clubs)
    .values({ slug, name, timezone: 'Europe/Berlin', ...(currency === undefined ? {} : { currency }) })
    .returning();
  return club!;
}

/** Clubs `<key>-club-1` … `<key>-club-<count>`, named `Bench club 1` …, in Berlin's time zone. */
export async function insertClubs(db: Database, key: string, count: number): Promise<ClubSet> {
  await insertSelect(
    db,
    clubs,
    { slug: sql`${key} || '-club-' || c`, name: sql`'Bench club ' || c`, timezone: sql`'Europe/Berlin'` },
    sql`generate_series(1, ${count}::int) c`,
  );
  return { slugLike: `${key}-club-%` };
}

/**
 * Ids derived from a row number, `md5('<key>-<kind>-<n>')`, so that every table can name a
 * row of another without a join; `n` is an SQL expression (text such as `(b - 1) % 400 + 1`
 * is taken as it is).
 */
export function derivedIds(key: string) {
  return (kind: string, n: string | SQL) =>
    sql`md5(${key} || ${sql.raw(`'-${kind}-'`)} || ${typeof n === 'string' ? sql.raw(n) : n})::uuid`;
}

export interface TableLayout {
  /** Tables T1 … T<count> in each club. */
  count: number;
  /** Tables per row of the floor plan: 4 units apart across, 3 down, each 3 × 2. */
  perRow: number;
  /** Table t seats 2 + t mod `seatCycle` (default 5). */
  seatCycle?: number;
  /** The zone of table t: VIP for the first `zone` tables and Floor for the others, or an expression over t; none when left out. */
  zone?: number | SQL;
  /** Minimum deposit of table t in minor units: `vip` for the first `vipTables`, `floor` for the others; none when left out. */
  minDeposit?: { vipTables: number; vip: number; floor: number };
  /** The id of table t, an expression over t (see `derivedIds`); a random one when left out. */
  id?: SQL;
}

/** The tables of every club of `of`. */
export async function insertTables(db: Database, of: ClubSet, layout: TableLayout): Promise<void> {
  const { count, perRow, seatCycle = 5, zone, minDeposit, id } = layout;
  const rows = eachClub(of, sql`generate_series(1, ${count}::int) t`);
  await insertSelect(
    db,
    tables,
    {
      ...(id && { id }),
      clubId: rows.clubId,
      label: sql`'T' || t`,
      capacity: sql`2 + t % ${seatCycle}::int`,
      ...(minDeposit && {
        minDepositMinor: sql`case when t <= ${minDeposit.vipTables}::int then ${minDeposit.vip}::int else ${minDeposit.floor}::int end`,
      }),
      ...(zone !== undefined && {
        zone: typeof zone === 'number' ? sql`case when t <= ${zone}::int then 'VIP' else 'Floor' end` : zone,
      }),
      x: sql`(t - 1) % ${perRow}::int * 4`,
      y: sql`(t - 1) / ${perRow}::int * 3`,
      width: sql`3`,
      height: sql`2`,
    },
    rows.from,
  );
}

export interface NightsOptions {
  /** The moment the nights are laid around, as an ISO timestamp. */
  now: string;
  /** Nights per club, tonight included. */
  count: number;
  /** Whether the nights other than tonight come before it or after it, one a day. */
  toward: 'before' | 'after';
  /** Night d's availability version, an expression over d; the default when left out. */
  availabilityVersion?: SQL;
}

/** Nights of every club of `of`: d = 0 is tonight, started 2 hours before `now` and ending 4 hours after it. */
export async function insertNights(db: Database, of: ClubSet, options: NightsOptions): Promise<void> {
  const { now, count, toward, availabilityVersion } = options;
  const rows = eachClub(of, sql`generate_series(0, ${count - 1}::int) d`);
  const days = sql.raw(toward === 'before' ? '-' : '+');
  await insertSelect(
    db,
    nights,
    {
      clubId: rows.clubId,
      startsAt: sql`${now}::timestamptz - interval '2 hours' ${days} d * interval '1 day'`,
      endsAt: sql`${now}::timestamptz + interval '4 hours' ${days} d * interval '1 day'`,
      ...(availabilityVersion && { availabilityVersion }),
    },
    rows.from,
  );
}

export interface SeatingOptions {
  /** Who opens (and closes) the sessions. */
  hostId: string;
  /** As an ISO timestamp: the sessions of nights ended before it are closed at the night's end, the others open. */
  now: string;
  /** Which (night n, table t) to seat, over n and t; every one when left out. */
  where?: SQL;
}

/** A session at the tables of every night of `of`, opened (x + y) minutes after the night began. */
export async function seatTables(db: Database, of: ClubSet, options: SeatingOptions): Promise<void> {
  const { hostId, now, where } = options;
  const pairs =
    'id' in of
      ? sql`${nights} n join ${tables} t on t.club_id = n.club_id where n.club_id = ${of.id}`
      : sql`${nights} n join ${tables} t on t.club_id = n.club_id join ${clubs} c on c.id = n.club_id where c.slug like ${of.slugLike}`;
  await insertSelect(
    db,
    tableSessions,
    {
      nightId: sql`n.id`,
      tableId: sql`t.id`,
      openedBy: sql`${hostId}::uuid`,
      openedAt: sql`n.starts_at + (t.x + t.y) * interval '1 minute'`,
      closedBy: sql`case when n.ends_at < ${now}::timestamptz then ${hostId}::uuid end`,
      closedAt: sql`case when n.ends_at < ${now}::timestamptz then n.ends_at end`,
    },
    where ? sql`${pairs} and (${where})` : pairs,
  );
}

/** 1–4 deposits of 2,500 · k, 10 · k minutes in, on every session `hostId` opened; how many by a hash of the session id. */
export async function insertDeposits(db: Database, hostId: string, currency: string): Promise<void> {
  await insertSelect(
    db,
    deposits,
    {
      sessionId: sql`s.id`,
      amountMinor: sql`2500 * k`,
      currency: sql`${currency}`,
      recordedBy: sql`s.opened_by`,
      recordedAt: sql`s.opened_at + k * interval '10 minutes'`,
      idempotencyKey: sql`s.id || '-' || k`,
      requestHash: sql`'bench'`,
    },
    sql`${tableSessions} s cross join lateral generate_series(1, 1 + abs(hashtext(s.id::text)) % 4) k
        where s.opened_by = ${hostId}::uuid`,
  );
}

export interface PastGuestsOptions {
  guests: number;
  /** The club's tables, `id('table', 't')` for t in 1…`tables`, already inserted. */
  tables: number;
  /** The ids the rows get: `id('night', n)` and `id('user', u)`. */
  id: ReturnType<typeof derivedIds>;
  /** Guest u's subject is `${subjectPrefix}u`. */
  subjectPrefix: string;
}

/**
 * Everyone who ever booked at a club: `guests` users, and past nights, one a day, with
 * every table of every night booked once — guest u booked table (u − 1) mod tables + 1 of
 * night (u − 1) div tables + 1. A campaign of the club reaches each of them once.
 */
export async function insertPastGuests(db: Database, clubId: string, options: PastGuestsOptions): Promise<void> {
  const { guests, tables: tableCount, id, subjectPrefix } = options;
  await insertSelect(
    db,
    nights,
    {
      id: id('night', 'n'),
      clubId: sql`${clubId}::uuid`,
      startsAt: sql`date_trunc('day', now()) - n * interval '1 day' + interval '22 hours'`,
      endsAt: sql`date_trunc('day', now()) - n * interval '1 day' + interval '28 hours'`,
    },
    sql`generate_series(1, ${Math.ceil(guests / tableCount)}::int) n`,
  );
  await insertSelect(
    db,
    users,
    { id: id('user', 'u'), subject: sql`${subjectPrefix} || u`, displayName: sql`'Bench guest ' || u` },
    sql`generate_series(1, ${guests}::int) u`,
  );
  await insertSelect(
    db,
    bookings,
    {
      nightId: id('night', `((u - 1) / ${tableCount} + 1)`),
      tableId: id('table', `((u - 1) % ${tableCount} + 1)`),
      userId: id('user', 'u'),
      partySize: sql`2 + u % 4`,
      status: sql`'confirmed'`,
      idempotencyKey: sql`'bench-' || u`,
      requestHash: sql`'bench'`,
    },
    sql`generate_series(1, ${guests}::int) u`,
  );
}

/** Guest tokens (no club) for users with these subjects, in their order. */
export function guestTokens(sign: ScenarioContext['sign'], subjects: readonly string[]): Promise<string[]> {
  return Promise.all(subjects.map((subject) => sign({ subject, roles: ['guest'], clubIds: [] })));
}

/** Per club of `of` and per value of `series`: the club's id and what to select from. */
function eachClub(of: ClubSet, series: SQL): { clubId: SQL; from: SQL } {
  return 'id' in of
    ? { clubId: sql`${of.id}::uuid`, from: series }
    : { clubId: sql`c.id`, from: sql`${clubs} c cross join ${series} where c.slug like ${of.slugLike}` };
}
