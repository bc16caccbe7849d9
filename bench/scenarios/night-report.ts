import { eq, like, sql } from 'drizzle-orm';
import {
  bookings,
  campaigns,
  checkIns,
  clubs,
  deposits,
  guestEntries,
  nights,
  outbox,
  songs,
  tableSessions,
  users,
  voteSessionSongs,
  voteSessions,
  votes,
} from '../../src/db/schema.js';
import { insertSelect } from '../database.js';
import { derivedIds, insertClub, insertTables, insertUser } from '../fixtures.js';
import { graphqlRequest } from '../http.js';
import { percentile } from '../load.js';
import { ms, round } from '../report.js';
import type { Observer, Scenario, ServerVariant } from '../scenario.js';

// A manager watching tonight's figures while the night runs: Night.report over one night
// with 5,000 bookings, 8,000 check-ins, 500 table sessions with deposits, 20,000 votes and
// three campaigns' outbox rows.
const QUERY = /* GraphQL */ `
  query($id: ID!) { night(id: $id) { report { version final computedAt
    bookings { held confirmed cancelled expired total } peakOccupancy noShows
    deposits { total { amountMinor currency } byZone { zone total { amountMinor } } }
    checkIns { total byGate { gate count } byQuarterHour { startsAt count } }
    voting { sessions votes voters topSongs { song { title } votes } }
    campaigns { messages delivered } } } }
`;

/**
 * "cached": nothing changes, the same query again and again (the steady state: the
 * report's key read from the shared store in O(1), then a hit). "uncached"
 * (`NIGHT_REPORT_CACHE=false`): every request computes the figures from scratch over the
 * full data set; the observer checks that every answer was computed after it was asked for.
 */
const cached: ServerVariant = { label: 'cached', env: {} };
const uncached: ServerVariant = { label: 'uncached', env: { NIGHT_REPORT_CACHE: 'false' } };

const TABLES = 1_000;
const BOOKINGS = 5_000;
const GUEST_ENTRIES = 10_000;
/** Guest entries 1..CHECKED_IN_GUESTS are in; with 500 bookings, 8,000 check-ins. */
const CHECKED_IN_GUESTS = 7_500;
const VOTERS = 20_000;
const SONGS = 30;
/** A session of the day before (ended), not part of tonight's figures. */
const EARLIER_VOTES = 2_000;
const CAMPAIGNS = 3;
const RECIPIENTS = 2_000;
const GATES = ['North', 'South', 'Garden'] as const;
/** Check-ins, spread over the night's first 10,000 s (it started 3 h before the run). */
const ENTRY_WINDOW_S = 10_000;
const DEPOSIT_STEP_MINOR = 5_000;

/** Table t (1-based): its zone; the last 50 tables have none. */
function zoneOf(t: number): string | null {
  return t <= 100 ? 'VIP' : t <= 700 ? 'Floor' : t <= 950 ? 'Terrace' : null;
}
const ZONE_SQL = sql.raw(`case when t <= 100 then 'VIP' when t <= 700 then 'Floor' when t <= 950 then 'Terrace' end`);

/**
 * Booking b (1..5,000) is on table (b − 1) mod 1,000 + 1. The first round (b ≤ 1,000) holds
 * each table's live booking or a cancelled one: t mod 10 in 0–5 confirmed, 6–7 held, 8–9
 * cancelled; the four rounds after it are cancelled (even b) or expired (odd b).
 */
function statusOf(b: number): 'confirmed' | 'held' | 'cancelled' | 'expired' {
  if (b > TABLES) return b % 2 === 0 ? 'cancelled' : 'expired';
  const r = b % 10;
  return r <= 5 ? 'confirmed' : r <= 7 ? 'held' : 'cancelled';
}
const STATUS_SQL = sql.raw(
  `case when b > ${TABLES} then case when b % 2 = 0 then 'cancelled' else 'expired' end
        when b % 10 <= 5 then 'confirmed' when b % 10 <= 7 then 'held' else 'cancelled' end`,
);
// Of the first round: tables t mod 10 in 0–3 are seated with their (confirmed) booking,
// t mod 10 = 8 (cancelled) had a walk-in party, since left; confirmed bookings with
// t mod 10 in 0–4 came in at the door (so t mod 10 = 5 are the no-shows).
const seated = (t: number) => t % 10 <= 3 || t % 10 === 8;
const bookingCheckedIn = (t: number) => t % 10 <= 4;
/** Deposits of the session at table t: 1 + t mod 3 of them, the k-th 5,000 · k. */
const depositsAt = (t: number) => 1 + (t % 3);

/** Voter i's song (1..30), skewed to the first ones: r = i · 7919 mod 20,000 runs over all residues. */
function songOf(i: number): number {
  const r = (i * 7919) % VOTERS;
  return 1 + Math.floor((r * r) / 13_333_334);
}
const SONG_OF_I = `(1 + ((i * 7919) % ${VOTERS}) * ((i * 7919) % ${VOTERS}) / 13333334)`;
const songTitle = (s: number) => `Song ${String(s).padStart(2, '0')}`;

export const nightReport: Scenario = {
  name: 'night-report',
  connections: 16,
  variants: [cached, uncached],

  // The issue's data volume, whatever --scale says.
  async prepare({ db, tag, sign }) {
    const id = derivedIds(`${tag}-nr`);
    const startsAt = new Date(Date.now() - 3 * 3_600_000);
    const endsAt = new Date(Date.now() + 5 * 3_600_000);
    const at = sql`${startsAt.toISOString()}::timestamptz`;

    const manager = await insertUser(db, `${tag}-nr-manager`, 'Bench manager');
    const host = await insertUser(db, `${tag}-nr-host`, 'Bench host');
    const clubId = (await insertClub(db, `${tag}-report-club`, 'Bench report club')).id;
    const [night] = await db.insert(nights).values({ clubId, startsAt, endsAt }).returning();
    const nightId = night!.id;
    const hostId = sql`${host.id}::uuid`;

    await insertSelect(
      db,
      users,
      { id: id('user', 'u'), subject: sql`${tag} || '-nr-guest-' || u` },
      sql`generate_series(1, ${VOTERS}::int) u`,
    );
    await insertTables(db, { id: clubId }, {
      count: TABLES,
      perRow: 40,
      zone: ZONE_SQL,
      minDeposit: { vipTables: 100, vip: 50_000, floor: 15_000 },
      id: id('table', 't'),
    });
    // Bookings made over the week before the night, one every 90 s.
    await insertSelect(
      db,
      bookings,
      {
        id: id('booking', 'b'),
        nightId: sql`${nightId}::uuid`,
        tableId: id('table', `((b - 1) % ${TABLES} + 1)`),
        userId: id('user', 'b'),
        partySize: sql`2 + b % 6`,
        status: STATUS_SQL,
        // Far enough ahead that the hold sweep leaves them alone for any run.
        holdExpiresAt: sql`case when (${STATUS_SQL}) = 'held' then now() + interval '12 hours' end`,
        idempotencyKey: sql`'nr-' || b`,
        requestHash: sql`'bench'`,
        createdAt: sql`${at} - interval '7 days' + b * interval '90 seconds'`,
        updatedAt: sql`${at} - interval '7 days' + b * interval '90 seconds'`,
      },
      sql`generate_series(1, ${BOOKINGS}::int) b`,
    );
    await insertSelect(
      db,
      tableSessions,
      {
        id: id('session', 't'),
        nightId: sql`${nightId}::uuid`,
        tableId: id('table', 't'),
        bookingId: sql`case when t % 10 <= 3 then ${id('booking', 't')} end`,
        openedBy: hostId,
        openedAt: sql`${at} + (t % 120) * interval '1 minute'`,
        closedBy: sql`case when t % 10 = 8 then ${hostId} end`,
        closedAt: sql`case when t % 10 = 8 then ${at} + (t % 120 + 30) * interval '1 minute' end`,
      },
      sql`generate_series(1, ${TABLES}::int) t where t % 10 <= 3 or t % 10 = 8`,
    );
    await insertSelect(
      db,
      deposits,
      {
        sessionId: id('session', 't'),
        amountMinor: sql`${DEPOSIT_STEP_MINOR}::int * k`,
        currency: sql`'EUR'`,
        recordedBy: hostId,
        recordedAt: sql`${at} + (t % 120 + k) * interval '1 minute'`,
        idempotencyKey: sql`'nr-' || t || '-' || k`,
        requestHash: sql`'bench'`,
      },
      sql`generate_series(1, ${TABLES}::int) t cross join lateral generate_series(1, 1 + t % 3) k where t % 10 <= 3 or t % 10 = 8`,
    );
    await insertSelect(
      db,
      guestEntries,
      {
        id: id('guest', 'g'),
        nightId: sql`${nightId}::uuid`,
        name: sql`'Guest ' || g`,
        token: sql`md5(${tag} || '-nr-token-' || g)`,
        createdBy: hostId,
      },
      sql`generate_series(1, ${GUEST_ENTRIES}::int) g`,
    );
    await insertSelect(
      db,
      checkIns,
      {
        nightId: sql`${nightId}::uuid`,
        guestEntryId: id('guest', 'g'),
        gate: sql`(${sql.raw(`array['${GATES.join("','")}']`)})[1 + g % ${GATES.length}]`,
        checkedInBy: hostId,
        checkedInAt: sql`${at} + ((g * 37) % ${ENTRY_WINDOW_S}) * interval '1 second'`,
      },
      sql`generate_series(1, ${CHECKED_IN_GUESTS}::int) g`,
    );
    await insertSelect(
      db,
      checkIns,
      {
        nightId: sql`${nightId}::uuid`,
        bookingId: id('booking', 't'),
        gate: sql`'VIP'`,
        checkedInBy: hostId,
        checkedInAt: sql`${at} + ((t * 53) % ${ENTRY_WINDOW_S}) * interval '1 second'`,
      },
      sql`generate_series(1, ${TABLES}::int) t where t % 10 <= 4`,
    );

    // Voting: tonight's session (active, started half an hour in) and yesterday's (ended).
    await insertSelect(
      db,
      songs,
      { id: id('song', 's'), clubId: sql`${clubId}::uuid`, title: sql`'Song ' || lpad(s::text, 2, '0')`, artist: sql`'Bench artist'` },
      sql`generate_series(1, ${SONGS}::int) s`,
    );
    const tonight = sql`${at} + interval '30 minutes'`;
    const yesterday = sql`${at} - interval '1 day'`;
    // v = 1: tonight's, active; v = 0: yesterday's, ended.
    await insertSelect(
      db,
      voteSessions,
      {
        id: id('vote-session', 'v'),
        clubId: sql`${clubId}::uuid`,
        status: sql`case when v = 1 then 'active' else 'ended' end`,
        startedBy: hostId,
        startedAt: sql`case when v = 1 then ${tonight} else ${yesterday} end`,
        endedAt: sql`case when v = 0 then ${yesterday} + interval '2 hours' end`,
      },
      sql`generate_series(0, 1) v`,
    );
    await insertSelect(
      db,
      voteSessionSongs,
      { sessionId: id('vote-session', 'v'), songId: id('song', 's'), position: sql`s` },
      sql`generate_series(0, 1) v cross join generate_series(1, ${SONGS}::int) s`,
    );
    await insertSelect(
      db,
      votes,
      {
        sessionId: id('vote-session', '1'),
        songId: id('song', SONG_OF_I),
        userId: id('user', 'i'),
        castAt: sql`${tonight} + i * interval '100 milliseconds'`,
      },
      sql`generate_series(1, ${VOTERS}::int) i`,
    );
    await insertSelect(
      db,
      votes,
      {
        sessionId: id('vote-session', '0'),
        songId: id('song', `(1 + i % ${SONGS})`),
        userId: id('user', 'i'),
        castAt: sql`${yesterday} + i * interval '1 second'`,
      },
      sql`generate_series(1, ${EARLIER_VOTES}::int) i`,
    );

    // Campaigns of the week up to the night's end, 2,000 recipients each, every tenth message
    // undeliverable (dead); one older campaign outside the window. No row is left for the
    // outbox workers to take.
    await insertSelect(
      db,
      campaigns,
      {
        id: id('campaign', 'c'),
        clubId: sql`${clubId}::uuid`,
        message: sql`'Bench campaign ' || c`,
        createdBy: sql`${manager.id}::uuid`,
        recipients: sql`case when c = 0 then 1000 else ${RECIPIENTS}::int end`,
        createdAt: sql`case when c = 0 then now() - interval '10 days' else now() - c * interval '40 hours' end`,
      },
      sql`generate_series(0, ${CAMPAIGNS}::int) c`,
    );
    await insertSelect(
      db,
      outbox,
      {
        topic: sql`'notification'`,
        dedupKey: sql`'campaign:' || ${id('campaign', 'c')} || ':' || ${id('user', 'u')}`,
        payload: sql`jsonb_build_object('kind', 'CAMPAIGN', 'userId', ${id('user', 'u')}, 'message', 'Bench campaign ' || c,
          'clubId', ${clubId}::text, 'campaignId', ${id('campaign', 'c')})`,
        campaignId: id('campaign', 'c'),
        attempts: sql`case when u % 10 = 0 and c > 0 then 10 else 1 end`,
        deliveredTo: sql`case when u % 10 = 0 and c > 0 then '{}'::text[] else '{live}'::text[] end`,
        processedAt: sql`case when u % 10 = 0 and c > 0 then null else now() - interval '1 hour' end`,
        deadAt: sql`case when u % 10 = 0 and c > 0 then now() - interval '1 hour' end`,
        lastError: sql`case when u % 10 = 0 and c > 0 then 'bench: undeliverable' end`,
      },
      sql`generate_series(0, ${CAMPAIGNS}::int) c
          cross join lateral generate_series(greatest(c - 1, 0) * ${RECIPIENTS}::int + 1,
            greatest(c - 1, 0) * ${RECIPIENTS}::int + case when c = 0 then 1000 else ${RECIPIENTS}::int end) u`,
    );

    const expected = expectedReport(startsAt, Number(night!.availabilityVersion));
    const token = await sign({ subject: manager.subject, roles: ['manager'], clubIds: [clubId] });
    const request = graphqlRequest(QUERY, { id: nightId }, token);

    return {
      next: () => request,
      check(data) {
        const report = (data as ReportData | null)?.night?.report;
        if (!report) return 'no report';
        if (report.final) return 'a final report for a night under way';
        const computedAt = Date.parse(report.computedAt);
        if (!(computedAt > startsAt.getTime() && computedAt <= Date.now() + 1_000)) return `computedAt ${report.computedAt} is off`;
        const { computedAt: _, ...figures } = report;
        const got = canonical(figures);
        const want = canonical(expected);
        return got === want ? undefined : `figures differ:\n  got  ${got}\n  want ${want}`;
      },
      observe: () => freshness(),
      async remove() {
        // Tables, the night and everything of it, songs, sessions, votes and campaigns go with the club.
        await db.delete(clubs).where(eq(clubs.id, clubId));
        await db.delete(users).where(like(users.subject, `${tag}-nr-%`));
      },
    };
  },
};

/** The report the data set above must give, worked out from the same rules in JavaScript. */
function expectedReport(startsAt: Date, version: number): ReportFigures {
  const bookingsByStatus = { held: 0, confirmed: 0, cancelled: 0, expired: 0, total: 0 };
  for (let b = 1; b <= BOOKINGS; b += 1) {
    bookingsByStatus[statusOf(b)] += 1;
    bookingsByStatus.total += 1;
  }
  let occupied = 0;
  let noShows = 0;
  const byZone = new Map<string | null, number>();
  const byGate = new Map<string, number>();
  const byQuarter = new Map<number, number>();
  const entry = (gate: string, second: number) => {
    byGate.set(gate, (byGate.get(gate) ?? 0) + 1);
    const quarter = Math.floor(second / 900);
    byQuarter.set(quarter, (byQuarter.get(quarter) ?? 0) + 1);
  };
  for (let t = 1; t <= TABLES; t += 1) {
    const live = statusOf(t) === 'confirmed' || statusOf(t) === 'held';
    if (live || seated(t)) occupied += 1;
    if (statusOf(t) === 'confirmed' && !bookingCheckedIn(t)) noShows += 1;
    if (statusOf(t) === 'confirmed' && bookingCheckedIn(t)) entry('VIP', (t * 53) % ENTRY_WINDOW_S);
    if (seated(t)) {
      const k = depositsAt(t);
      const zone = zoneOf(t);
      byZone.set(zone, (byZone.get(zone) ?? 0) + (DEPOSIT_STEP_MINOR * k * (k + 1)) / 2);
    }
  }
  for (let g = 1; g <= CHECKED_IN_GUESTS; g += 1) entry(GATES[g % GATES.length]!, (g * 37) % ENTRY_WINDOW_S);
  const songVotes = new Map<number, number>();
  for (let i = 1; i <= VOTERS; i += 1) songVotes.set(songOf(i), (songVotes.get(songOf(i)) ?? 0) + 1);
  const top = [...songVotes]
    .map(([s, votes]) => ({ title: songTitle(s), votes }))
    .sort((a, b) => b.votes - a.votes || (a.title < b.title ? -1 : 1))
    .slice(0, 5);
  const depositTotal = [...byZone.values()].reduce((a, b) => a + b, 0);
  let delivered = 0;
  for (let u = 1; u <= CAMPAIGNS * RECIPIENTS; u += 1) if (u % 10 !== 0) delivered += 1;
  return {
    version,
    final: false,
    bookings: bookingsByStatus,
    peakOccupancy: Math.round((occupied / TABLES) * 10_000) / 10_000,
    noShows,
    deposits: {
      total: { amountMinor: depositTotal, currency: 'EUR' },
      byZone: [...byZone]
        .sort(([a], [b]) => (a ?? '').localeCompare(b ?? ''))
        .map(([zone, amountMinor]) => ({ zone, total: { amountMinor } })),
    },
    checkIns: {
      total: [...byGate.values()].reduce((a, b) => a + b, 0),
      byGate: [...byGate].sort(([a], [b]) => a.localeCompare(b)).map(([gate, count]) => ({ gate, count })),
      byQuarterHour: [...byQuarter]
        .sort(([a], [b]) => a - b)
        .map(([q, count]) => ({ startsAt: new Date(startsAt.getTime() + q * 900_000).toISOString(), count })),
    },
    voting: { sessions: 1, votes: VOTERS, voters: VOTERS, topSongs: top.map((s) => ({ song: { title: s.title }, votes: s.votes })) },
    campaigns: { messages: CAMPAIGNS * RECIPIENTS, delivered },
  };
}

/**
 * Tells answers computed for the request (computedAt, the database's clock when the
 * figures were read, after the request was sent) from cached ones (computed before it),
 * with the latencies of each.
 */
function freshness(): Observer {
  const fresh: number[] = [];
  const reused: number[] = [];
  const stamps = new Set<string>();
  return {
    see({ body, latencyMs }) {
      const sentAt = Date.now() - latencyMs;
      const computedAt = /"computedAt":"([^"]+)"/.exec(body)?.[1];
      if (!computedAt) return;
      stamps.add(computedAt);
      // A millisecond of slack: both clocks are this machine's, computedAt is truncated to ms.
      (Date.parse(computedAt) >= sentAt - 1 ? fresh : reused).push(latencyMs);
    },
    summary() {
      const line = (name: string, latencies: number[]) => {
        const sorted = Float64Array.from(latencies).sort();
        const [p50, p95, p99] = [50, 95, 99].map((p) => percentile(sorted, p));
        return {
          text: `${name} ${latencies.length}${latencies.length ? `  p50 ${ms(p50!)}  p95 ${ms(p95!)}  p99 ${ms(p99!)}` : ''}`,
          fields: { requests: latencies.length, p50Ms: round(p50!, 2), p95Ms: round(p95!, 2), p99Ms: round(p99!, 2) },
        };
      };
      const computed = line('computed for the request:', fresh);
      const cachedLine = line('served from the cache:', reused);
      return {
        lines: [`${computed.text}; ${cachedLine.text}; distinct computedAt ${stamps.size}`],
        fields: { computed: computed.fields, fromCache: cachedLine.fields, distinctComputedAt: stamps.size },
      };
    },
  };
}

interface ReportFigures {
  version: number;
  final: boolean;
  bookings: { held: number; confirmed: number; cancelled: number; expired: number; total: number };
  peakOccupancy: number;
  noShows: number;
  deposits: { total: { amountMinor: number; currency: string }; byZone: { zone: string | null; total: { amountMinor: number } }[] };
  checkIns: { total: number; byGate: { gate: string; count: number }[]; byQuarterHour: { startsAt: string; count: number }[] };
  voting: { sessions: number; votes: number; voters: number; topSongs: { song: { title: string }; votes: number }[] };
  campaigns: { messages: number; delivered: number };
}

interface ReportData {
  night: { report: (ReportFigures & { computedAt: string }) | null } | null;
}

/** JSON with every object's keys sorted, so two values compare whatever order they were built in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}
