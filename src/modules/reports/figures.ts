import { sql } from 'drizzle-orm';
import { executeRows } from '../../db/any.js';
import type { Executor } from '../../db/client.js';
import type { Night } from '../../db/schema.js';
import { countEntries, type EntryStatsModel } from '../checkin/service.js';
import type { VoteResultsSnapshot } from '../voting/results-store.js';

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

/** Vote results of sessions, as the shared vote-results cache keeps them (VoteResultsStore.load). */
export type VoteResultsOf = (sessionIds: readonly string[]) => Promise<(Pick<VoteResultsSnapshot, 'totalVotes' | 'entries'> | null)[]>;

/**
 * Every figure of the night's report in SQL — aggregates only, no rows come back to be
 * counted here — as five statements run side by side (on PostgreSQL, on as many
 * connections): bookings and occupancy, deposits by zone, check-ins, voting, campaigns.
 * With `votes`, the voting figures come from the vote results the cache keeps per
 * session (kept current by every vote) instead of counting the votes again.
 */
export async function computeNightFigures(
  db: Executor,
  night: Night,
  club: { currency: string },
  final: boolean,
  votes?: VoteResultsOf,
): Promise<NightFigures> {
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
    votes ? votingFromResults(db, night, votes) : countVotes(db, night),
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
    voting,
    campaigns: campaigns[0]!,
  };
}

/** Byte order for UTF-8 text as PostgreSQL's "C" collation sorts it (code points; equal to code units outside surrogates). */
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The night's vote sessions: those started while it ran. */
function sessionsOf(night: Night) {
  return sql`select id from vote_sessions
    where club_id = ${night.clubId}::uuid and started_at >= ${night.startsAt.toISOString()}::timestamptz and started_at < ${night.endsAt.toISOString()}::timestamptz`;
}

/** The voting figures counted from the votes, in one statement. */
async function countVotes(db: Executor, night: Night): Promise<VotingFiguresModel> {
  const [vote] = await executeRows<{ sessions: number; votes: number; voters: number; top: VotingFiguresModel['topSongs'] | null }>(
    db,
    // Votes counted per (session, song) straight off votes_session_song_idx (an index-only
    // scan in index order, no hashing of 20,000 rows), then per song; a voter votes once
    // per session (votes_session_user_key), so with one session voters = votes and only
    // several sessions need the DISTINCT (CASE evaluates that branch only then).
    sql`with s as (${sessionsOf(night)}),
      per_song as (
        select song_id, sum(n)::int as votes from (
          select session_id, song_id, count(*) as n from votes where session_id = any(array(select id from s))
          group by session_id, song_id) c
        group by song_id),
      ranked as (
        select g.id as "songId", g.title, g.artist, p.votes
        from per_song p join songs g on g.id = p.song_id order by p.votes desc, g.title collate "C", g.id limit ${TOP_SONGS})
      select (select count(*)::int from s) as sessions, (select coalesce(sum(votes), 0)::int from per_song) as votes,
        case when (select count(*) from s) <= 1 then (select coalesce(sum(votes), 0)::int from per_song)
          else (select count(distinct user_id)::int from votes where session_id = any(array(select id from s))) end as voters,
        (select json_agg(ranked) from ranked) as top`,
  );
  return { sessions: vote!.sessions, votes: vote!.votes, voters: vote!.voters, topSongs: vote!.top ?? [] };
}

/**
 * The voting figures from the sessions' cached results: per song summed over the
 * sessions, the top five by votes then title (as `countVotes` orders them). A voter votes
 * once per session, so voters = votes with one session; only several need the DISTINCT.
 */
async function votingFromResults(db: Executor, night: Night, votes: VoteResultsOf): Promise<VotingFiguresModel> {
  const sessionIds = (await executeRows<{ id: string }>(db, sessionsOf(night))).map((row) => row.id);
  const [results, distinct] = await Promise.all([
    sessionIds.length > 0 ? votes(sessionIds) : Promise.resolve([]),
    sessionIds.length > 1
      ? executeRows<{ voters: number }>(db, sql`select count(distinct user_id)::int as voters from votes where session_id = any(${sessionIds}::uuid[])`)
      : Promise.resolve(null),
  ]);
  const bySong = new Map<string, VotingFiguresModel['topSongs'][number]>();
  let total = 0;
  for (const result of results) {
    total += result?.totalVotes ?? 0;
    for (const entry of result?.entries ?? []) {
      const song = bySong.get(entry.song.id) ?? { songId: entry.song.id, title: entry.song.title, artist: entry.song.artist, votes: 0 };
      song.votes += entry.votes;
      bySong.set(song.songId, song);
    }
  }
  const topSongs = [...bySong.values()]
    .filter((song) => song.votes > 0)
    .sort((a, b) => b.votes - a.votes || byCodeUnits(a.title, b.title) || byCodeUnits(a.songId, b.songId))
    .slice(0, TOP_SONGS);
  return { sessions: sessionIds.length, votes: total, voters: distinct ? distinct[0]!.voters : total, topSongs };
}
