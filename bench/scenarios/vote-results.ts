import { and, count, eq, like, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../src/db/client.js';
import { anyId } from '../../src/db/any.js';
import { clubs, songs, users, voteSessionSongs, voteSessions, votes } from '../../src/db/schema.js';
import { insertSelect } from '../database.js';
import { derivedIds, insertClub } from '../fixtures.js';
import { graphqlRequest } from '../http.js';
import type { Scenario, ScenarioContext, ServerVariant, SideLoad } from '../scenario.js';

// Everyone's phone polling one session's standings, anonymously.
const query = /* GraphQL */ `
  query($id: ID!) { voteSession(id: $id) { results { totalVotes entries { votes percentage song { title } } } } }
`;

const SONGS = 50;
/** At scale 1: one vote each from 1,000,000 distinct users. */
const VOTES = 1_000_000;

const cached: ServerVariant = { label: 'cached', env: { VOTE_RESULTS_CACHE: 'true' } };
const uncached: ServerVariant = { label: 'uncached', env: { VOTE_RESULTS_CACHE: 'false' } };

export const voteResults: Scenario = {
  name: 'vote-results',
  connections: 32,
  variants: [cached, uncached],
  async prepare(ctx) {
    const { db } = ctx;
    const { sessionId, voters, key } = await prepareSession(ctx, 'results', SONGS, Math.round(VOTES * ctx.scale));
    // Uneven: the song at position p gets a share falling with p (u² puts most votes on the first songs).
    const u = sql`(abs(hashtext('v' || g)) % 1000000) / 1000000.0`;
    await insertSelect(
      db,
      votes,
      { sessionId: sql`vss.session_id`, songId: sql`vss.song_id`, userId: voterId(key, sql`g`) },
      sql`generate_series(1, ${voters}::int) g
          join ${voteSessionSongs} vss on vss.session_id = ${sessionId}::uuid and vss.position = floor(${SONGS} * ${u} * ${u})::int`,
    );
    const request = graphqlRequest(query, { id: sessionId });
    let explained: Promise<string[]> | undefined;
    return {
      next: () => request,
      check: (data) => {
        const results = (data as ResultsData | null)?.voteSession?.results;
        if (!results) return 'no results';
        if (results.totalVotes !== voters) return `expected ${voters} votes, got ${results.totalVotes}`;
        if (results.entries.length !== SONGS) return `expected ${SONGS} entries, got ${results.entries.length}`;
        return undefined;
      },
      // Not a load: once the first measured run ends (after the harness's vacuum analyze), the plan.
      alongside: (): SideLoad => ({
        measuring() {},
        async stop() {
          const first = !explained;
          explained ??= explainResults(db, sessionId);
          return { lines: first ? await explained : [], fields: {} };
        },
      }),
      remove: () => removeSession(db, key),
    };
  },
};

/** `md5(...)::uuid`: a voter's id, computable in any statement without a join. */
export const voterId = (key: string, n: SQL) => derivedIds(key)('voter', n);
export const voterSubject = (key: string, n: number) => `${key}-voter-${n}`;

/** A club with `songCount` songs, one active session offering them all, and `voters` users (no votes yet). */
export async function prepareSession({ db, tag }: ScenarioContext, prefix: string, songCount: number, voters: number) {
  const key = `${tag}-${prefix}`;
  const club = await insertClub(db, `${key}-club`, 'Bench vote club');
  await insertSelect(
    db,
    songs,
    { clubId: sql`${club.id}::uuid`, title: sql`'Song ' || s`, artist: sql`'Artist ' || s % 7` },
    sql`generate_series(1, ${songCount}::int) s`,
  );
  const [session] = await db.insert(voteSessions).values({ clubId: club.id }).returning();
  await insertSelect(
    db,
    voteSessionSongs,
    { sessionId: sql`${session!.id}::uuid`, songId: sql`s.id`, position: sql`(row_number() over (order by s.title) - 1)::int` },
    sql`${songs} s where s.club_id = ${club.id}::uuid`,
  );
  await insertSelect(
    db,
    users,
    { id: voterId(key, sql`g`), subject: sql`${key} || '-voter-' || g`, displayName: sql`'Bench voter ' || g` },
    sql`generate_series(1, ${voters}::int) g`,
  );
  const songIds = (await db.select({ id: voteSessionSongs.songId }).from(voteSessionSongs).where(eq(voteSessionSongs.sessionId, session!.id))).map((s) => s.id);
  return { sessionId: session!.id, songIds, voters, key };
}

export async function removeSession(db: Database, key: string) {
  // Songs, the session and its votes go with the club; then nothing refers to the voters.
  await db.delete(clubs).where(eq(clubs.slug, `${key}-club`));
  await db.delete(users).where(like(users.subject, `${key}-voter-%`));
}

/**
 * EXPLAIN (ANALYZE, BUFFERS; TIMING OFF: a clock read per row would double the time) of the server's results query (the `voteCounts` statement of
 * src/modules/voting/loaders.ts, rebuilt here), and of the same GROUP BY counting a column
 * the (session_id, song_id) index holds instead of `votes.id`, for comparison.
 */
async function explainResults(db: Database, sessionId: string): Promise<string[]> {
  const counted = async (column: typeof votes.id | typeof votes.songId) => {
    const select = db
      .select({ sessionId: voteSessionSongs.sessionId, song: songs, votes: count(column) })
      .from(voteSessionSongs)
      .innerJoin(songs, eq(songs.id, voteSessionSongs.songId))
      .leftJoin(votes, and(eq(votes.sessionId, voteSessionSongs.sessionId), eq(votes.songId, voteSessionSongs.songId)))
      .where(anyId(voteSessionSongs.sessionId, [sessionId]))
      .groupBy(voteSessionSongs.sessionId, songs.id);
    const rows = (await db.execute(sql`explain (analyze, buffers, timing off, format json) ${select}`)) as unknown as { 'QUERY PLAN': Plan[] }[];
    return rows[0]!['QUERY PLAN'][0]!;
  };
  const describe = (label: string, plan: Plan) => {
    const scan = findScan(plan.Plan, 'votes');
    const how = scan ? `${scan['Node Type']}${scan['Index Name'] ? ` using ${scan['Index Name']}` : ''}` : 'no scan of votes';
    const fetches = scan?.['Heap Fetches'] === undefined ? '' : `, heap fetches ${scan['Heap Fetches']}`;
    const buffers = `shared hit ${plan.Plan['Shared Hit Blocks'] ?? 0} read ${plan.Plan['Shared Read Blocks'] ?? 0}`;
    return `plan ${label}: votes by ${how}${fetches}; ${buffers}; execution ${plan['Execution Time'].toFixed(1)} ms`;
  };
  // The server's current query counts votes per (session, song) before joining the song list; the
  // uncached run measures it. These two show why counting over the join was slow.
  return [describe('join-then-count(votes.id)', await counted(votes.id)), describe('join-then-count(votes.song_id)', await counted(votes.songId))];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Heap Fetches'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}
interface Plan {
  Plan: PlanNode;
  'Execution Time': number;
}

function findScan(node: PlanNode, relation: string): PlanNode | undefined {
  if (node['Relation Name'] === relation) return node;
  for (const child of node.Plans ?? []) {
    const found = findScan(child, relation);
    if (found) return found;
  }
  return undefined;
}

interface ResultsData {
  voteSession?: { results: { totalVotes: number; entries: unknown[] } };
}
