import { and, asc, countDistinct, desc, eq, sql, type AnyColumn } from 'drizzle-orm';
import { anyId, escapeLike } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { afterCursor, pageValues, preparedPerDatabase } from '../../db/prepared.js';
import { agents, checkIns, guestEntries, nights } from '../../db/schema.js';
import { pageLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';
import { normalizePhone } from './phone.js';

/** How far into a night's list a search looks for a page of matches before it filters the whole list. */
const SEARCH_HEAD = 1_000;

/** Guests and check-ins counted per promoter code. */
export interface AgentStatsRow {
  agentId: string;
  guests: number;
  checkIns: number;
}

const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');
  const filter = sql.placeholder('filter');

  type Named = { name: AnyColumn; id: AnyColumn };
  const byName = (source: Named) => [sql`lower(${source.name}) collate "C"`, asc(source.id)];
  const afterKey = (source: Named) =>
    sql`(lower(${source.name}) collate "C", ${source.id}) > (lower(${sql.placeholder('afterKey')}::text) collate "C", ${sql.placeholder('afterId')}::uuid)`;
  const limit = sql.placeholder('limit');
  const matches = (source: { name: AnyColumn; phone: AnyColumn }) =>
    sql`(${source.name} ilike ${sql.placeholder('pattern')} or ${source.phone} = ${sql.placeholder('phone')})`;

  /**
   * A page of each night's guest list by (case-folded name, id), LATERAL per night, in
   * one statement. The search is a case-insensitive substring of the name (ILIKE) or the
   * exact phone number, answered the cheaper of two ways: the first SEARCH_HEAD guests in
   * the list's order (an index walk) hold a page of matches when the fragment is common;
   * otherwise the matches are found first (the pg_trgm index) and sorted, which is cheap
   * exactly because they are few. On 100,000 guests: a common 3 letters ("ber", 13% of
   * names) 26 ms by filtering first, 4 ms from the head; a rare one ("yus", at the end of
   * the list) 97 ms by walking the whole list, 6 ms by filtering first.
   */
  const guestPage = (withSearch: boolean, withCursor: boolean) => {
    const ofNight = and(eq(guestEntries.nightId, nights.id), withCursor ? afterKey(guestEntries) : undefined);
    let perNight;
    if (!withSearch) {
      perNight = db.select().from(guestEntries).where(ofNight).orderBy(...byName(guestEntries)).limit(limit).as('g');
    } else {
      const listHead = db.select().from(guestEntries).where(ofNight).orderBy(...byName(guestEntries)).limit(SEARCH_HEAD).as('h');
      const head = db.$with('head').as(db.select().from(listHead).where(matches(listHead)).orderBy(...byName(listHead)).limit(limit));
      // An OFFSET (of 0, as a parameter: Drizzle leaves out a literal 0) keeps the filtering
      // subquery from being merged into an ordered walk of the whole list.
      const matching = db.select().from(guestEntries).where(and(ofNight, matches(guestEntries))).offset(sql.placeholder('noOffset')).as('matching');
      const headFound = sql`(select count(*) from ${head})`;
      const either = db
        .select()
        .from(head)
        .where(sql`${headFound} >= ${limit}`)
        .unionAll(db.select().from(matching).where(sql`${headFound} < ${limit}`).orderBy(...byName(matching)).limit(limit))
        .as('either');
      perNight = db.with(head).select().from(either).as('g');
    }
    return db
      .select(perNight._.selectedFields)
      .from(nights)
      .crossJoinLateral(perNight)
      .where(anyId(nights.id, ids))
      .orderBy(perNight.nightId, sql`lower(${perNight.name}) collate "C"`, perNight.id)
      .prepare(`guest_page_${withSearch ? 's' : ''}${withCursor ? 'c' : ''}`);
  };

  /** A page of each night's check-ins, newest first, optionally at one gate. */
  const checkInPage = (withGate: boolean, withCursor: boolean) => {
    const perNight = db
      .select()
      .from(checkIns)
      .where(
        and(
          eq(checkIns.nightId, nights.id),
          withGate ? eq(checkIns.gate, filter) : undefined,
          withCursor ? afterCursor(checkIns.checkedInAt, checkIns.id, 'desc') : undefined,
        ),
      )
      .orderBy(desc(checkIns.checkedInAt), desc(checkIns.id))
      .limit(sql.placeholder('limit'))
      .as('c');
    return db
      .select(perNight._.selectedFields)
      .from(nights)
      .crossJoinLateral(perNight)
      .where(anyId(nights.id, ids))
      .orderBy(perNight.nightId, desc(perNight.checkedInAt), desc(perNight.id))
      .prepare(`check_in_page_${withGate ? 'g' : ''}${withCursor ? 'c' : ''}`);
  };

  return {
    guestsById: db.select().from(guestEntries).where(anyId(guestEntries.id, ids)).prepare('guests_by_id'),
    checkInsByGuest: db.select().from(checkIns).where(anyId(checkIns.guestEntryId, ids)).prepare('check_ins_by_guest'),
    agentsById: db.select().from(agents).where(anyId(agents.id, ids)).prepare('agents_by_id'),
    agentStats: db
      .select({
        agentId: agents.id,
        guests: countDistinct(guestEntries.id),
        checkIns: countDistinct(checkIns.id),
      })
      .from(agents)
      .leftJoin(guestEntries, eq(guestEntries.agentId, agents.id))
      .leftJoin(checkIns, eq(checkIns.guestEntryId, guestEntries.id))
      .where(anyId(agents.id, ids))
      .groupBy(agents.id)
      .prepare('agent_stats'),
    guestPages: [guestPage(false, false), guestPage(false, true), guestPage(true, false), guestPage(true, true)] as const,
    checkInPages: [checkInPage(false, false), checkInPage(false, true), checkInPage(true, false), checkInPage(true, true)] as const,
  };
});

export function createCheckinLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  const guestById = rowLoader((ids) => q.guestsById.execute({ ids }), (g) => g.id, options);
  const checkInByGuest = rowLoader(
    async (ids) => (await q.checkInsByGuest.execute({ ids })).flatMap((c) => (c.guestEntryId ? [{ ...c, guestEntryId: c.guestEntryId }] : [])),
    (c) => c.guestEntryId,
    options,
  );
  const agentById = rowLoader((ids) => q.agentsById.execute({ ids }), (a) => a.id, options);
  const agentStatsByAgent = rowLoader((ids) => q.agentStats.execute({ ids }), (row) => row.agentId, options);

  const guestPageByNight = pageLoader(
    async (nightIds, page, search) => {
      const prepared = q.guestPages[(search === null ? 0 : 2) + (page.after ? 1 : 0)]!;
      const rows = await prepared.execute({
        ids: nightIds,
        pattern: search === null ? null : `%${escapeLike(search)}%`,
        phone: search === null ? null : normalizePhone(search),
        noOffset: 0,
        ...pageValues(page),
      });
      for (const row of rows) guestById.prime(row.id, row);
      return rows;
    },
    (row) => row.nightId,
    options,
  );
  const checkInPageByNight = pageLoader(
    (nightIds, page, gate) =>
      q.checkInPages[(gate === null ? 0 : 2) + (page.after ? 1 : 0)]!.execute({ ids: nightIds, filter: gate, ...pageValues(page) }),
    (row) => row.nightId,
    options,
  );

  return { guestById, checkInByGuest, agentById, agentStatsByAgent, guestPageByNight, checkInPageByNight };
}
