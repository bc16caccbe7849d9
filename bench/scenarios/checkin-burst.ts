import { performance } from 'node:perf_hooks';
import { eq, sql } from 'drizzle-orm';
import { clubs, guestEntries, nights, users } from '../../src/db/schema.js';
import { insertSelect } from '../database.js';
import { insertClub, insertUser } from '../fixtures.js';
import { guestName, searchFragment } from '../guest-names.js';
import { graphqlRequest } from '../http.js';
import { percentile, statementCount } from '../load.js';
import { ms, round } from '../report.js';
import { shuffle, type BenchRequest, type Observer, type Scenario } from '../scenario.js';

// The door at opening time: hosts scan QR codes at several gates and search the list by name.
const SCAN = `mutation($input: CheckInInput!) { checkIn(input: $input) { id checkedInAt } }`;
const SEARCH = `query($id: ID!, $s: String) { night(id: $id) { guests(search: $s, first: 20) { edges { node { name checkIn { gate } } } } } }`;

const GUESTS = 100_000;
const SCAN_SHARE = 0.8;
/** Of the searches, this share is an exact phone number; the others a part of a name. */
const PHONE_SHARE = 0.05;
const GATES = ['North', 'South', 'VIP', 'Staff'];

export const checkinBurst: Scenario = {
  name: 'checkin-burst',
  // Scanners and host phones at four gates. With a rate, autocannon lets every connection
  // send its share of the second back to back, so this many requests are in flight at once.
  connections: 16,
  rate: 1_000,
  // The target is the rate-limited run; the closed-loop one shows the maximum.
  variants: [
    { label: 'at-rate', env: {} },
    { label: 'max', env: {}, closedLoop: true },
  ],

  async prepare({ db, scale, tag, sign }) {
    const guests = Math.max(1, Math.round(GUESTS * scale));
    const host = await insertUser(db, `${tag}-door`, 'Bench door host');
    const club = await insertClub(db, `${tag}-door-club`, 'Bench door club');
    const [night] = await db
      .insert(nights)
      .values({ clubId: club.id, startsAt: new Date(Date.now() - 3_600_000), endsAt: new Date(Date.now() + 5 * 3_600_000) })
      .returning();

    // 40% have a phone. Tokens as the server makes them: 16 random bytes, base64url, 22 characters.
    await insertSelect(
      db,
      guestEntries,
      {
        nightId: sql`${night!.id}::uuid`,
        name: guestName('g'),
        phone: sql`case when g % 5 < 2 then '+4915' || lpad((g::bigint * 7919 % 100000000)::text, 8, '0') end`,
        token: sql`rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=')`,
        createdBy: sql`${host.id}::uuid`,
      },
      sql`generate_series(1, ${guests}::int) g`,
    );

    const rows = (await db.execute(
      sql`select token from ${guestEntries} where night_id = ${night!.id}`,
    )) as unknown as { token: string }[];
    const tokens = shuffle(rows.map((r) => r.token));
    const sample = (await db.execute(
      sql`select name, phone from ${guestEntries} where night_id = ${night!.id} order by random() limit 2000`,
    )) as unknown as { name: string; phone: string | null }[];
    const phones = sample.flatMap((s) => (s.phone ? [s.phone] : []));
    const words = sample.flatMap((s) => s.name.split(' ')).filter((w) => w.length >= 3);

    const token = await sign({ subject: host.subject, roles: ['host'], clubIds: [club.id] });
    const search = (s: string, key: string): BenchRequest => ({ ...graphqlRequest(SEARCH, { id: night!.id, s }, token), key });
    let used = 0;
    const next = (): BenchRequest => {
      if (Math.random() < SCAN_SHARE && used < tokens.length) {
        const input = { token: tokens[used++]!, gate: GATES[Math.floor(Math.random() * GATES.length)]! };
        return { ...graphqlRequest(SCAN, { input }, token), key: 'scan' };
      }
      if (Math.random() < PHONE_SHARE) return search(phones[Math.floor(Math.random() * phones.length)]!, 'phone-search');
      return search(searchFragment(words[Math.floor(Math.random() * words.length)]!), 'name-search');
    };

    return {
      next,
      check(data) {
        const answer = data as CheckinData | null;
        if (answer?.checkIn) return typeof answer.checkIn.id === 'string' ? undefined : 'check-in without id';
        const edges = answer?.night?.guests.edges;
        return edges && edges.length > 0 ? undefined : 'a search for an existing name or phone found nobody';
      },
      observe: () => {
        const split = perKind(['scan', 'name-search', 'phone-search']);
        let before: number | undefined;
        return {
          see: (answer, connection) => {
            before ??= used;
            split.see(answer, connection);
          },
          summary: () => {
            const s = split.summary();
            // Once every token is scanned, scans turn into searches: the mix is off.
            const left = tokens.length - used;
            const note = left === 0 ? ' (RAN OUT: the rest of the mix was searches)' : '';
            s.lines.push(`tokens: ${used - (before ?? used)} handed out while measuring, ${left} of ${tokens.length} left${note}`);
            s.fields.tokens = { measured: used - (before ?? used), left };
            return s;
          },
        };
      },
      async remove() {
        // Guest entries and their check-ins go with the club's night.
        await db.delete(clubs).where(eq(clubs.id, club.id));
        await db.delete(users).where(eq(users.id, host.id));
      },
    };
  },
};

/**
 * Per request kind (`BenchRequest.key`): answers per second, latency percentiles, GraphQL
 * error codes and SQL statements per request (Server-Timing). Sees 2xx answers only;
 * transport errors and other statuses are counted in the line above, for all kinds.
 */
export function perKind(kinds: readonly string[]): Observer {
  const seen = new Map(kinds.map((k) => [k, { latencies: [] as number[], statements: [] as number[], errors: new Map<string, number>() }]));
  let from = Number.POSITIVE_INFINITY;
  let to = 0;
  return {
    see({ request, body, headers, latencyMs }) {
      const kind = seen.get(request.key ?? '');
      if (!kind) return;
      const now = performance.now();
      from = Math.min(from, now - latencyMs);
      to = now;
      kind.latencies.push(latencyMs);
      kind.statements.push(statementCount(headers['server-timing'] ?? (headers as Record<string, string | undefined>)['Server-Timing']));
      if (body.includes('"errors":')) {
        const code = (JSON.parse(body) as ErrorsAnswer).errors?.[0]?.extensions?.code ?? 'UNKNOWN';
        kind.errors.set(code, (kind.errors.get(code) ?? 0) + 1);
      }
    },
    summary() {
      const seconds = Math.max(to - from, 1) / 1000;
      const width = Math.max(...kinds.map((k) => k.length)) + 1;
      const lines: string[] = [];
      const fields: Record<string, unknown> = {};
      for (const [name, { latencies, statements, errors }] of seen) {
        const sorted = Float64Array.from(latencies).sort();
        const counts = Float64Array.from(statements).sort();
        const sql = counts.reduce((a, b) => a + b, 0) / counts.length;
        const errorList = [...errors].sort((a, b) => b[1] - a[1]);
        const [p50, p95, p99] = [50, 95, 99].map((p) => percentile(sorted, p));
        lines.push(
          [
            `${`${name}:`.padEnd(width)} ${latencies.length} = ${Math.round(latencies.length / seconds)} req/s`,
            `p50 ${ms(p50!)}`,
            `p95 ${ms(p95!)}`,
            `p99 ${ms(p99!)}`,
            `errors ${errorList.length === 0 ? 0 : errorList.map(([code, n]) => `${code} ${n}`).join(', ')}`,
            `sql/req ${Number.isNaN(sql) ? 'n/a' : `${sql.toFixed(2)} (${counts[0]}–${counts[counts.length - 1]})`}`,
          ].join('  '),
        );
        fields[name] = {
          requests: latencies.length,
          rps: round(latencies.length / seconds, 1),
          p50Ms: round(p50!, 2),
          p95Ms: round(p95!, 2),
          p99Ms: round(p99!, 2),
          errors: Object.fromEntries(errorList),
          sqlPerRequest: round(sql, 2),
        };
      }
      return { lines, fields: { byKind: fields } };
    },
  };
}

interface ErrorsAnswer {
  errors?: { extensions?: { code?: string } }[];
}

interface CheckinData {
  checkIn?: { id: unknown };
  night?: { guests: { edges: unknown[] } };
}
