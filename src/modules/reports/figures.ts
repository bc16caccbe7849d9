import { sql } from 'drizzle-orm';
import { executeRows } from '../../db/any.js';
import type { Executor } from '../../db/client.js';
import type { Night } from '../../db/schema.js';
import { countEntries, type EntryStatsModel } from '../checkin/service.js';

/** A sum of minor units: bigint in SQL, a safe integer here (sums beyond 2^31 are fine). */
export interface Total {
  amountMinor: number;
  currency: string;
}

/** The night 360 (seed 004, Block 13), as computed from the database. */
export interface NightFigures {
  nightId: string;
  /** The night's availability version when computed. */
  version: number;
  computedAt: string;
  final: boolean;
  bookings: { held: number; confirmed: number; cancelled: number; expired: number; total: number };
  tables: number;
  occupiedTables: number;
  noShows: number;
  deposits: { total: Total; byZone: { zone: string | null; total: Total }[] };
  checkIns: Omit<EntryStatsModel, 'byQuarterHour'> & { byQuarterHour: { startsAt: string; count: number }[] };
  voting: VotingFiguresModel;
  campaigns: { messages: number; delivered: number };
}

export interface VotingFiguresModel {
  sessions: number;
  votes: number;
  voters: number;
  topSongs: { songId: string; title: string; artist: string; votes: number }[];
}

const TOP_SONGS = 5;
/** The campaigns counted are those sent in the week up to the night's end. */
const CAMPAIGN_WINDOW = '7 days';

/**
 * Every figure of the night's report in SQL — aggregates only, no rows come back to be
 * counted here — as five statements run side by side (on PostgreSQL, on as many
 * connections): bookings and occupancy, deposits by zone, check-ins, voting, campaigns.
 */
export async function computeNightFigures(db: Executor, night: Night, club: { currency: string }, final: boolean): Promise<NightFigures> {
  const [bookings, deposits, checkIns, voting, campaigns] = await Promise.all([
    executeRows<{ status: string | null; count: number; tables: number; occupied: number; no_shows: number; version: number; now: string }>(
      db,
      // The night's own figures once (MATERIALIZED: inlined, the planner would run the three
      // subqueries again for every status group), then the bookings counted by status.
      sql`with head as materialized (
            select n.id, n.availability_version::int as version, now()::text as now,
              (select count(*)::int from tables t where t.club_id = n.club_id and (t.retired_at is null or t.retired_at > n.starts_at)) as tables,
              (select count(*)::int from (
                 select table_id from bookings where night_id = n.id and status in ('held', 'confirmed')
                 union select table_id from table_sessions where night_id = n.id) o) as occupied,
              (select count(*)::int from bookings x where x.night_id = n.id and x.status = 'confirmed'
                 and not exists (select 1 from check_ins c where c.booking_id = x.id)) as no_shows
            from nights n where n.id = ${night.id}::uuid),
          counts as (select status, count(*)::int as count from bookings where night_id = ${night.id}::uuid group by status)
          select c.status, c.count, h.tables, h.occupied, h.no_shows, h.version, h.now
          from head h left join counts c on true`,
    ),
    executeRows<{ zone: string | null; level: number; total: string }>(
      db,
      sql`select t.zone, grouping(t.zone)::int as level, coalesce(sum(d.amount_minor), 0)::bigint::text as total
          from deposits d join table_sessions s on s.id = d.session_id join tables t on t.id = s.table_id
          where s.night_id = ${night.id}::uuid
          group by grouping sets ((t.zone), ())`,
    ),
    countEntries(db, night),
    executeRows<{ sessions: number; votes: number; voters: number; top: { songId: string; title: string; artist: string; votes: number }[] | null }>(
      db,
      // Votes counted per (session, song) straight off votes_session_song_idx (an index-only
      // scan in index order, no hashing of 20,000 rows), then per song; a voter votes once
      // per session (votes_session_user_key), so with one session voters = votes and only
      // several sessions need the DISTINCT (CASE evaluates that branch only then).
      sql`with s as (
            select id from vote_sessions
            where club_id = ${night.clubId}::uuid and started_at >= ${night.startsAt.toISOString()}::timestamptz and started_at < ${night.endsAt.toISOString()}::timestamptz),
          per_song as (
            select song_id, sum(n)::int as votes from (
              select session_id, song_id, count(*) as n from votes where session_id = any(array(select id from s))
              group by session_id, song_id) c
            group by song_id),
          ranked as (
            select g.id as "songId", g.title, g.artist, p.votes
            from per_song p join songs g on g.id = p.song_id order by p.votes desc, g.title limit ${TOP_SONGS})
          select (select count(*)::int from s) as sessions, (select coalesce(sum(votes), 0)::int from per_song) as votes,
            case when (select count(*) from s) <= 1 then (select coalesce(sum(votes), 0)::int from per_song)
              else (select count(distinct user_id)::int from votes where session_id = any(array(select id from s))) end as voters,
            (select json_agg(ranked) from ranked) as top`,
    ),
    executeRows<{ messages: number; delivered: number }>(
      db,
      sql`select count(o.id)::int as messages, count(o.processed_at)::int as delivered
          from campaigns c join outbox o on o.campaign_id = c.id
          where c.club_id = ${night.clubId}::uuid
            and c.created_at > ${night.endsAt.toISOString()}::timestamptz - interval '${sql.raw(CAMPAIGN_WINDOW)}'
            and c.created_at <= ${night.endsAt.toISOString()}::timestamptz`,
    ),
  ]);
  const counts = { held: 0, confirmed: 0, cancelled: 0, expired: 0, total: 0 };
  for (const row of bookings) {
    if (row.status === null) continue;
    counts[row.status as keyof typeof counts] = row.count;
    counts.total += row.count;
  }
  const head = bookings[0]!;
  const money = (minor: string | number): Total => ({ amountMinor: Number(minor), currency: club.currency });
  const vote = voting[0]!;
  return {
    nightId: night.id,
    version: head.version,
    computedAt: new Date(head.now).toISOString(),
    final,
    bookings: counts,
    tables: head.tables,
    occupiedTables: head.occupied,
    noShows: head.no_shows,
    deposits: {
      total: money(deposits.find((d) => d.level === 1)?.total ?? 0),
      byZone: deposits.filter((d) => d.level === 0).map((d) => ({ zone: d.zone, total: money(d.total) })).sort((a, b) => (a.zone ?? '').localeCompare(b.zone ?? '')),
    },
    checkIns: { ...checkIns, byQuarterHour: checkIns.byQuarterHour.map((q) => ({ startsAt: q.startsAt.toISOString(), count: q.count })) },
    voting: { sessions: vote.sessions, votes: vote.votes, voters: vote.voters, topSongs: vote.top ?? [] },
    campaigns: campaigns[0]!,
  };
}
