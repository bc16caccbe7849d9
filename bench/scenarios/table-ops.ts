import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { and, eq, isNull, like, sql } from 'drizzle-orm';
import { clubs, nights, tableSessions, tables, users } from '../../src/db/schema.js';
import { insertClub, insertDeposits, insertNights, insertTables, insertUser, seatTables } from '../fixtures.js';
import { graphqlRequest, post } from '../http.js';
import { percentile } from '../load.js';
import { pace } from '../pace.js';
import { ms, round } from '../report.js';
import { rotate, type Scenario, type SideLoad } from '../scenario.js';
import { perKind } from './checkin-burst.js';

// Hosts watching the floor of a big club while others seat parties, take deposits and clear tables.
const POLL = `query($id: ID!) { night(id: $id) { tables { table { id label } state session { id openedAt }
  latestDeposit { amount { amountMinor currency } } depositTotal { amountMinor currency } } } }`;
const OPEN = `mutation($input: OpenTableSessionInput!) { openTableSession(input: $input) { id } }`;
const CLOSE = `mutation($id: ID!) { closeTableSession(id: $id) { id closedAt } }`;
const DEPOSIT = `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { id } }`;

const TABLES = 200;
/** Tables seated tonight: every one whose number is not a multiple of 4, 150 of 200. */
const OPEN_TARGET = 150;
const HOSTS = 4;
const CURRENCY = 'CHF';

export const tableOps: Scenario = {
  name: 'table-ops',
  connections: 12,
  variants: [{ label: 'batched', env: { LOADER_BATCHING: 'true' } }],

  async prepare({ db, scale, tag, sign }) {
    const now = new Date().toISOString();
    // Past nights only grow the sessions and deposits tables; the query reads tonight.
    const pastNights = Math.round(4 * scale);
    const club = await insertClub(db, `${tag}-ops-club`, 'Bench big club', CURRENCY);
    const host = await insertUser(db, `${tag}-ops-host-0`, 'Bench host');
    const bigClub = { id: club.id };
    await insertTables(db, bigClub, { count: TABLES, perRow: 20, seatCycle: 7, zone: 20, minDeposit: { vipTables: 20, vip: 100_000, floor: 20_000 } });
    await insertNights(db, bigClub, { now, count: 1 + pastNights, toward: 'before' });
    // Past nights: every table seated and closed. Tonight: 150 tables seated now.
    await seatTables(db, bigClub, { hostId: host.id, now, where: sql`n.ends_at < ${now}::timestamptz or substr(t.label, 2)::int % 4 <> 0` });
    await insertDeposits(db, host.id, CURRENCY);

    const [tonight] = (await db.execute(
      sql`select id from ${nights} where club_id = ${club.id} and starts_at <= ${now}::timestamptz order by starts_at desc limit 1`,
    )) as unknown as { id: string }[];
    const seated = await db
      .select({ sessionId: tableSessions.id, tableId: tableSessions.tableId })
      .from(tableSessions)
      .where(and(eq(tableSessions.nightId, tonight!.id), isNull(tableSessions.closedAt)));
    const seatedTables = new Set(seated.map((s) => s.tableId));
    const free = (await db.select({ id: tables.id }).from(tables).where(eq(tables.clubId, club.id)))
      .map((t) => t.id)
      .filter((id) => !seatedTables.has(id));

    const tokens = await Promise.all(
      Array.from({ length: HOSTS + 1 }, (_, i) => sign({ subject: `${tag}-ops-host-${i}`, roles: ['host'], clubIds: [club.id] })),
    );
    // Host 0 writes; the others poll.
    const polls = tokens.slice(1).map((token) => ({ ...graphqlRequest(POLL, { id: tonight!.id }, token), key: 'poll' }));

    return {
      next: rotate(polls),
      check(data) {
        const rows = (data as NightTablesData | null)?.night?.tables;
        if (rows?.length !== TABLES) return `expected ${TABLES} tables, got ${rows?.length}`;
        const seatedRows = rows.filter((r) => r.state === 'SEATED');
        if (seatedRows.length < OPEN_TARGET / 2) return `only ${seatedRows.length} tables seated`;
        if (seatedRows.some((r) => !r.session)) return 'a seated table has no session';
        if (rows.some((r) => r.depositTotal.currency !== CURRENCY)) return `a deposit total is not in ${CURRENCY}`;
        return undefined;
      },
      observe: () => perKind(['poll']),
      alongside: (url, signal) => startWriter(url, tokens[0]!, { nightId: tonight!.id, seated, free }, signal),
      async remove() {
        // Tables, nights, sessions and deposits go with the club; then nothing refers to the hosts.
        await db.delete(clubs).where(eq(clubs.id, club.id));
        await db.delete(users).where(like(users.subject, `${tag}-ops-host-%`));
      },
    };
  },
};

/** Writes per second: deposits, openings and closings together. */
const RATE = 20;
const DEPOSIT_SHARE = 0.6;
const MAX_IN_FLIGHT = 20;
const TICK_MS = 10;

interface Floor {
  nightId: string;
  seated: { sessionId: string; tableId: string }[];
  free: string[];
}

type Op = 'deposit' | 'open' | 'close';

/**
 * At RATE writes per second: 60% deposits on random open sessions, the rest alternately
 * closes a random session and seats a free table, so about OPEN_TARGET stay seated.
 */
function startWriter(url: string, token: string, floor: Floor, signal: AbortSignal): SideLoad {
  const run = randomBytes(4).toString('hex');
  let started = performance.now();
  const fresh = () => ({ done: 0, latenciesMs: [] as number[] });
  let stats: Record<Op, ReturnType<typeof fresh>> = { deposit: fresh(), open: fresh(), close: fresh() };
  const errors = new Map<string, number>();

  /** The mutation's result field, or undefined after an error (counted by op and code). */
  const mutate = async (op: Op, query: string, variables: Record<string, unknown>) => {
    const sent = performance.now();
    const answer = await post(url, token, query, variables);
    const own = stats[op];
    own.latenciesMs.push(performance.now() - sent);
    if (answer.code) errors.set(`${op} ${answer.code}`, (errors.get(`${op} ${answer.code}`) ?? 0) + 1);
    const result = Object.values((answer.data ?? {}) as Record<string, { id: string } | null>)[0] ?? undefined;
    if (result) own.done += 1;
    return result;
  };
  const takeRandom = <T>(items: T[]): T => {
    const i = Math.floor(Math.random() * items.length);
    [items[i], items[items.length - 1]] = [items[items.length - 1]!, items[i]!];
    return items.pop()!;
  };
  const deposit = async (n: number) => {
    const { sessionId } = floor.seated[Math.floor(Math.random() * floor.seated.length)]!;
    const amountMinor = 500 * (10 + Math.floor(Math.random() * 90));
    await mutate('deposit', DEPOSIT, { input: { sessionId, amountMinor, currency: CURRENCY, idempotencyKey: `${run}-${n}` } });
  };
  const close = async () => {
    const session = takeRandom(floor.seated);
    if (await mutate('close', CLOSE, { id: session.sessionId })) floor.free.push(session.tableId);
    else floor.seated.push(session);
  };
  const open = async () => {
    const tableId = takeRandom(floor.free);
    const opened = await mutate('open', OPEN, { input: { nightId: floor.nightId, tableId } });
    if (opened) floor.seated.push({ sessionId: opened.id, tableId });
    else floor.free.push(tableId);
  };

  const writes = pace({ rate: RATE, maxInFlight: MAX_IN_FLIGHT, tickMs: TICK_MS, signal }, (n) => {
    const canOpen = floor.free.length > 0 && floor.seated.length < OPEN_TARGET;
    return floor.seated.length > 0 && Math.random() < DEPOSIT_SHARE ? deposit(n) : canOpen ? open() : floor.seated.length > 0 ? close() : open();
  });

  return {
    measuring() {
      started = performance.now();
      stats = { deposit: fresh(), open: fresh(), close: fresh() };
      errors.clear();
      writes.resetSkipped();
    },
    async stop() {
      await writes.stop();
      const skipped = writes.skipped();
      const seconds = (performance.now() - started) / 1000;
      const byOp = Object.entries(stats).map(([op, { done, latenciesMs }]) => {
        const sorted = Float64Array.from(latenciesMs).sort();
        return { op, done, p50Ms: round(percentile(sorted, 50), 2), p99Ms: round(percentile(sorted, 99), 2) };
      });
      const errorList = [...errors].sort((a, b) => b[1] - a[1]);
      const perSecond = byOp.reduce((sum, o) => sum + o.done, 0) / seconds;
      return {
        lines: [
          [
            `writer: ${perSecond.toFixed(1)}/s over ${seconds.toFixed(1)} s:`,
            byOp.map((o) => `${o.done} ${o.op}s (p50 ${ms(o.p50Ms)}, p99 ${ms(o.p99Ms)})`).join(', '),
            `errors ${errorList.length === 0 ? 0 : errorList.map(([code, n]) => `${code} ${n}`).join(', ')}`,
            `seated now ${floor.seated.length}`,
            ...(skipped > 0 ? [`skipped ${skipped} (over ${MAX_IN_FLIGHT} in flight)`] : []),
          ].join('  '),
        ],
        fields: {
          writer: {
            perSecond: round(perSecond, 1),
            ...Object.fromEntries(byOp.map(({ op, ...rest }) => [op, rest])),
            errors: Object.fromEntries(errorList),
            skipped,
            seatedAtEnd: floor.seated.length,
          },
        },
      };
    },
  };
}

interface NightTablesData {
  night?: { tables: { state: string; session: unknown; depositTotal: { currency: string } }[] };
}
