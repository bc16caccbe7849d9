import { like, sql } from 'drizzle-orm';
import { bookings, clubs, nights, tableSessions, tables, users } from '../../src/db/schema.js';
import { insertSelect } from '../database.js';
import { derivedIds, insertClubs, insertNights, insertTables, insertUser } from '../fixtures.js';
import { graphqlRequest } from '../http.js';
import { percentile } from '../load.js';
import { ms, round } from '../report.js';
import type { BenchRequest, Observer, PreparedLoad, Scenario, ScenarioContext, ServerVariant } from '../scenario.js';

// Anyone's view of a night's floor: polled anonymously, one random night per request.
const query = /* GraphQL */ `
  query($id: ID!) { night(id: $id) { availability { version freeTables { id label } tables { state table { id label capacity } } } } }
`;

const CLUBS = 20;
const TABLES_PER_CLUB = 30;
/** At scale 1: 20 clubs × 50 nights = 1,000 nights, from tonight on. */
const NIGHTS_PER_CLUB = 50;
/** Guests who hold the bookings of the data set (and, in the storm, make new ones). */
const GUESTS = 1_000;

export const cacheOn: ServerVariant = { label: 'cache-on', env: { RESPONSE_CACHE: 'true' } };
const cacheOff: ServerVariant = { label: 'cache-off', env: { RESPONSE_CACHE: 'false' } };

export const availability: Scenario = {
  name: 'availability',
  connections: 100,
  variants: [cacheOn, cacheOff],
  async prepare(ctx) {
    return (await prepareNights(ctx, 'avail')).polling;
  },
};

/** A night's table that was free when the data set was made. */
export interface FreeTable {
  nightId: string;
  tableId: string;
}

export interface Nights {
  /** Anonymous polling of random nights' availability. */
  polling: PreparedLoad;
  free: FreeTable[];
  /** Subjects of the guests, `${prefix}` included, for signing their tokens. */
  guestSubjects: string[];
}

/**
 * 20 clubs of 30 tables with 50 nights each (scaled), tonight's running. Per night and
 * table, by a hash: 10% held, 15% confirmed, and tonight another 30% seated.
 * `prefix` keeps the clubs and users apart from other scenarios' of the same run.
 */
export async function prepareNights({ db, scale, tag }: ScenarioContext, prefix: string): Promise<Nights> {
  const now = new Date().toISOString();
  const nightsPerClub = Math.max(1, Math.round(NIGHTS_PER_CLUB * scale));
  const key = `${tag}-${prefix}`;
  const id = derivedIds(key);

  const host = await insertUser(db, `${key}-host`, 'Bench host');
  await insertSelect(
    db,
    users,
    { id: id('guest', 'g'), subject: sql`${key} || '-guest-' || g`, displayName: sql`'Bench guest ' || g` },
    sql`generate_series(1, ${GUESTS}::int) g`,
  );
  const run = await insertClubs(db, key, CLUBS);
  await insertTables(db, run, { count: TABLES_PER_CLUB, perRow: 10, zone: 6, minDeposit: { vipTables: 6, vip: 50_000, floor: 15_000 } });
  // d = 0 is tonight, running now; the others are the nights to come.
  await insertNights(db, run, { now, count: nightsPerClub, toward: 'after', availabilityVersion: sql`1 + d % 7` });
  const ofThisRun = sql`c.slug like ${`${key}-club-%`}`;
  // Every (night, table) of this run with a stable hash deciding what occupies it.
  const slots = sql`(select n.id as night_id, t.id as table_id, n.starts_at <= ${now}::timestamptz as tonight,
      abs(hashtext(n.id::text || t.id::text)) % 100 as h
    from ${nights} n join ${tables} t on t.club_id = n.club_id join ${clubs} c on c.id = n.club_id
    where ${ofThisRun}) s`;
  await insertSelect(
    db,
    bookings,
    {
      nightId: sql`s.night_id`,
      tableId: sql`s.table_id`,
      userId: id('guest', sql`1 + abs(hashtext(s.table_id::text || s.night_id::text)) % ${GUESTS}`),
      partySize: sql`2`,
      status: sql`case when s.h < 10 then 'held' else 'confirmed' end`,
      // Holds that outlast the run: a sweep releasing them would change versions by itself.
      holdExpiresAt: sql`case when s.h < 10 then now() + interval '12 hours' end`,
      idempotencyKey: sql`'seed-' || s.night_id || '-' || s.table_id`,
      requestHash: sql`'bench'`,
    },
    sql`${slots} where s.h < 25`,
  );
  await insertSelect(
    db,
    tableSessions,
    {
      nightId: sql`s.night_id`,
      tableId: sql`s.table_id`,
      openedBy: sql`${host.id}::uuid`,
      openedAt: sql`${now}::timestamptz - interval '1 hour'`,
    },
    sql`${slots} where s.tonight and s.h between 25 and 54`,
  );

  const nightIds = (await db.execute(
    sql`select n.id from ${nights} n join ${clubs} c on c.id = n.club_id where ${ofThisRun} order by n.id`,
  )) as unknown as { id: string }[];
  const free = (await db.execute(
    sql`select s.night_id as "nightId", s.table_id as "tableId" from ${slots}
        where s.h >= 25 and not (s.tonight and s.h < 55) order by 1, 2`,
  )) as unknown as FreeTable[];

  const requests: BenchRequest[] = nightIds.map(({ id }) => ({ ...graphqlRequest(query, { id }), key: id }));
  return {
    polling: {
      next: () => requests[Math.floor(Math.random() * requests.length)]!,
      check,
      observe: cacheSplit,
      async remove() {
        // Tables, nights, bookings and sessions go with their club; then nothing refers to the users.
        await db.delete(clubs).where(like(clubs.slug, `${key}-club-%`));
        await db.delete(users).where(like(users.subject, `${key}-%`));
      },
    },
    free,
    guestSubjects: Array.from({ length: GUESTS }, (_, i) => `${key}-guest-${i + 1}`),
  };
}

function check(data: unknown): string | undefined {
  const a = (data as AvailabilityData | null)?.night?.availability;
  if (!a || typeof a.version !== 'number') return 'no availability version';
  if (a.tables.length !== TABLES_PER_CLUB) return `expected ${TABLES_PER_CLUB} tables, got ${a.tables.length}`;
  const free = a.tables.filter((t) => t.state === 'FREE').length;
  if (a.freeTables.length !== free) return `${a.freeTables.length} free tables listed, ${free} tables FREE`;
  if (free === TABLES_PER_CLUB) return 'every table is free: the data set has no bookings';
  return undefined;
}

/**
 * Per connection and night, the availability `version` must never go down: a client that
 * saw version v and then reads an older one saw time run backwards.
 */
export function versionWatch(): Observer {
  const highest = new WeakMap<object, Map<string, number>>();
  let reads = 0;
  let pairs = 0;
  let regressions = 0;
  let example: string | undefined;
  return {
    see({ body, request }, connection) {
      const at = body.indexOf('"version":');
      if (at === -1 || request.key === undefined) return;
      const version = Number.parseInt(body.slice(at + 10, at + 30), 10);
      let byNight = highest.get(connection);
      if (!byNight) highest.set(connection, (byNight = new Map()));
      const before = byNight.get(request.key);
      if (before === undefined) pairs += 1;
      else reads += 1;
      if (before !== undefined && version < before) {
        regressions += 1;
        example ??= `night ${request.key}: version ${version} after ${before}`;
      } else {
        byNight.set(request.key, version);
      }
    },
    summary() {
      return {
        lines: [
          `versions: ${regressions} went down in ${reads} repeated reads of ${pairs} (connection, night) pairs` +
            (example ? ` (first: ${example})` : ''),
        ],
        fields: { versionCheck: { regressions, repeatedReads: reads, pairs, example: example ?? null } },
      };
    },
  };
}

/**
 * Latencies of answers served from the response cache (Server-Timing `cache;desc="hit"`)
 * and of the others, apart: under writes the misses make the tail.
 */
export function cacheSplit(): Observer {
  const hits: number[] = [];
  const misses: number[] = [];
  return {
    see({ headers, latencyMs }) {
      const timing = headers['server-timing'] ?? (headers as Record<string, string | undefined>)['Server-Timing'];
      (String(timing).includes('cache;desc="hit"') ? hits : misses).push(latencyMs);
    },
    summary() {
      const [hit, miss] = [hits, misses].map((values) => {
        const sorted = Float64Array.from(values).sort();
        return { count: values.length, p50Ms: round(percentile(sorted, 50), 2), p99Ms: round(percentile(sorted, 99), 2) };
      });
      const share = hits.length / Math.max(1, hits.length + misses.length);
      const part = (name: string, p: typeof hit) => `${name} ${p!.count} p50 ${ms(p!.p50Ms)} p99 ${ms(p!.p99Ms)}`;
      return {
        lines: [`cache: ${(share * 100).toFixed(1)}% hits  ${part('hits', hit)}  ${part('misses', miss)}`],
        fields: { responseCache: { hitShare: round(share, 4), hits: hit, misses: miss } },
      };
    },
  };
}

interface AvailabilityData {
  night?: { availability: { version: number; freeTables: unknown[]; tables: { state: string }[] } };
}
