import { like, sql } from 'drizzle-orm';
import { streamers, userStreamers, users } from '../../src/db/schema.js';
import { encodeCursor, MAX_PAGE_SIZE } from '../../src/graphql/pagination.js';
import { guestTokens } from '../fixtures.js';
import { graphqlRequest } from '../http.js';
import { percentile, statementCount } from '../load.js';
import { ms, round } from '../report.js';
import { rotate, type BenchRequest, type Observer, type Scenario } from '../scenario.js';
import { checkTrackedEdges, insertFans, type TrackedEdge } from './fans.js';

// A fan who tracks 500 streamers pages through all of them, 100 at a time (the most a page
// holds), each with its item count and newest 5 items.
const query = /* GraphQL */ `
  query($first: Int!, $after: String) {
    me {
      trackedStreamers(first: $first, after: $after) {
        edges {
          trackedAt
          node {
            id handle displayName wishlistItemsCount
            wishlist(first: 5) { edges { node { id title price { amountMinor currency } } } }
          }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;

const TRACKED = 500;
const PAGE = MAX_PAGE_SIZE;
const PAGES = Math.ceil(TRACKED / PAGE);
/** The issue's target at the default 20 connections. */
const TARGET_P99_MS = 50;

export const trackedDashboard: Scenario = {
  name: 'tracked-dashboard',
  connections: 20,

  async prepare({ db, scale, tag, sign }) {
    const userCount = Math.max(20, Math.round(20 * scale));
    // Lists overlap (as popular streamers do) without being identical.
    const streamerCount = Math.max(TRACKED, Math.round(2_000 * scale));
    const { userId } = await insertFans(db, { tag, prefix: 'td-', users: userCount, streamers: streamerCount, tracked: TRACKED, stride: 97 });

    // Each page's end cursor, as the server encodes it (trackedStreamersOf: [trackedAt ISO, streamer id]):
    // the last row of each page in the connection's order.
    const ends = (await db.execute(sql`
      select u, tracked_at, streamer_id from (
        select u,
          to_char(t.tracked_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as tracked_at,
          t.streamer_id::text as streamer_id,
          row_number() over (partition by u order by t.tracked_at desc, t.streamer_id desc) as n
        from generate_series(1, ${userCount}::int) u
        join ${userStreamers} t on t.user_id = ${userId('u')}
      ) ranked
      where n % ${PAGE} = 0 or n = ${TRACKED}
      order by u, n`)) as unknown as { u: number; tracked_at: string; streamer_id: string }[];
    const endCursors = new Map<number, string[]>();
    for (const row of ends) {
      const list = endCursors.get(Number(row.u)) ?? [];
      list.push(encodeCursor([row.tracked_at, row.streamer_id]));
      endCursors.set(Number(row.u), list);
    }

    // Page-major order: consecutive requests are different users, every page of every user comes round.
    const tokens = await guestTokens(sign, Array.from({ length: userCount }, (_, i) => `${tag}-td-user-${i + 1}`));
    const pages: (BenchRequest & { expected: { endCursor: string; hasNextPage: boolean } })[] = [];
    for (let page = 0; page < PAGES; page += 1) {
      for (let u = 1; u <= userCount; u += 1) {
        const cursors = endCursors.get(u);
        if (cursors?.length !== PAGES) throw new Error(`user ${u}: expected ${PAGES} page ends, found ${cursors?.length ?? 0}`);
        const after = page === 0 ? null : cursors[page - 1]!;
        pages.push({
          ...graphqlRequest(query, { first: PAGE, after }, tokens[u - 1]!),
          key: `page ${page + 1}`,
          expected: { endCursor: cursors[page]!, hasNextPage: page < PAGES - 1 },
        });
      }
    }
    const nextPage = rotate(pages);
    // The probe sends one request at a time and checks its answer before the next: `check`
    // compares with the page `next` handed out last.
    let last: (typeof pages)[number] | undefined;

    return {
      next() {
        last = nextPage();
        return last;
      },
      check(data) {
        const connection = (data as TrackedData | null)?.me?.trackedStreamers;
        const lastPage = last?.expected.hasNextPage === false;
        const problem = checkTrackedEdges(connection?.edges, lastPage ? TRACKED - PAGE * (PAGES - 1) : PAGE);
        if (problem) return problem;
        if (last) {
          const { endCursor, hasNextPage } = connection!.pageInfo;
          if (hasNextPage !== last.expected.hasNextPage) return `${last.key}: hasNextPage ${hasNextPage}, expected ${last.expected.hasNextPage}`;
          if (endCursor !== last.expected.endCursor) return `${last.key}: endCursor ${endCursor}, expected ${last.expected.endCursor}`;
        }
        return undefined;
      },
      observe: () => statementsAndTarget(),
      async remove() {
        // Tracking rows and wishlist items go with their streamer.
        await db.delete(streamers).where(like(streamers.handle, `${tag}-td-streamer-%`));
        await db.delete(users).where(like(users.subject, `${tag}-td-user-%`));
      },
    };
  },
};

/**
 * Every answer's statement count (Server-Timing), so a count that varies with the page or
 * the user shows, and the issue's p99 target on the latencies of the 2xx answers.
 */
function statementsAndTarget(): Observer {
  const counts = new Map<number, number>();
  const latenciesMs: number[] = [];
  const byPage = new Map<string, number[]>();
  /** Sums of the Server-Timing durations and of the answers' sizes. */
  let sqlMs = 0;
  let totalMs = 0;
  let bytes = 0;
  return {
    see(answer) {
      // autocannon keeps the header's own case.
      const headers = answer.headers as Record<string, string | string[] | undefined>;
      const timing = String(headers['server-timing'] ?? headers['Server-Timing'] ?? '');
      const statements = statementCount(timing);
      counts.set(statements, (counts.get(statements) ?? 0) + 1);
      sqlMs += Number(/sql;dur=([\d.]+)/.exec(timing)?.[1] ?? Number.NaN);
      totalMs += Number(/total;dur=([\d.]+)/.exec(timing)?.[1] ?? Number.NaN);
      bytes += answer.body.length;
      latenciesMs.push(answer.latencyMs);
      const key = answer.request.key ?? '?';
      let list = byPage.get(key);
      if (!list) byPage.set(key, (list = []));
      list.push(answer.latencyMs);
    },
    summary() {
      const p99 = percentile(Float64Array.from(latenciesMs).sort(), 99);
      const pageP99 = [...byPage]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, list]) => [key, percentile(Float64Array.from(list).sort(), 99)] as const);
      const distribution = [...counts].sort(([a], [b]) => a - b);
      const fixed = distribution.length === 1 && !Number.isNaN(distribution[0]![0]);
      const met = p99 <= TARGET_P99_MS;
      const n = Math.max(1, latenciesMs.length);
      return {
        lines: [
          `Server-Timing per answer: total mean ${ms(totalMs / n)}, SQL summed over its statements ${ms(sqlMs / n)} (each includes waits for a busy event loop); answer ${(bytes / n / 1024).toFixed(1)} KiB`,
          `statements per answer: ${distribution.map(([n, times]) => `${Number.isNaN(n) ? 'none' : n} ×${times}`).join(', ')}${fixed ? ' (fixed)' : ' (NOT fixed)'}`,
          `p99 by page: ${pageP99.map(([key, p]) => `${key} ${ms(p)}`).join(', ')}`,
          `target p99 ≤ ${TARGET_P99_MS} ms: ${met ? 'met' : 'NOT met'} (p99 ${ms(p99)})`,
        ],
        fields: {
          statementsPerAnswer: Object.fromEntries(distribution.map(([n, times]) => [Number.isNaN(n) ? 'none' : String(n), times])),
          statementsFixed: fixed,
          serverMsMean: round(totalMs / n, 2),
          sqlMsMean: round(sqlMs / n, 2),
          answerBytesMean: Math.round(bytes / n),
          p99ByPageMs: Object.fromEntries(pageP99.map(([key, p]) => [key, round(p, 2)])),
          targetP99Ms: TARGET_P99_MS,
          targetMet: met,
        },
      };
    },
  };
}

interface TrackedData {
  me?: { trackedStreamers?: { edges: TrackedEdge[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
}
