// The floor for `night-tables`: what a hand-written server does for the same query with
// the same statements Nightgraph sends — a minimal node:http handler, the same JWT check,
// postgres.js prepared statements, and the answer's JSON written by hand. Nightgraph ÷
// this is the room left. It answers only the scenario's query (its text is not read).
import { claimsOf, NO_TOKEN, serveFloor, sql } from './serve.js';

const labelOrder = new Intl.Collator('en', { numeric: true });

interface TableRow {
  id: string;
  label: string;
  capacity: number;
  state: string;
  session_id: string | null;
  opened_at: Date | null;
}

/** The night's tables with their state, per availability version (Nightgraph keeps the same per version). */
const tablesByVersion = new Map<string, { version: string; rows: TableRow[] }>();

async function tablesOf(night: { id: string; club_id: string; starts_at: Date; availability_version: string }): Promise<TableRow[]> {
  const known = tablesByVersion.get(night.id);
  if (known && known.version === night.availability_version) return known.rows;
  const rows = await sql<TableRow[]>`
    select t.id, t.label, t.capacity, s.id as session_id, s.opened_at,
      case when s.id is not null then 'SEATED' when b.status = 'confirmed' then 'BOOKED' when b.status = 'held' then 'HELD' else 'FREE' end as state
    from tables t
    left join bookings b on b.night_id = ${night.id} and b.table_id = t.id and b.status in ('confirmed', 'held')
    left join table_sessions s on s.night_id = ${night.id} and s.table_id = t.id and s.closed_at is null
    where t.club_id = ${night.club_id} and (t.retired_at is null or t.retired_at > ${night.starts_at})`;
  rows.sort((a, b) => labelOrder.compare(a.label, b.label));
  tablesByVersion.set(night.id, { version: night.availability_version, rows });
  return rows;
}

async function answer(authorization: string | undefined, body: string): Promise<{ status: number; json: string }> {
  const payload = await claimsOf(authorization);
  if (!payload) return NO_TOKEN;
  const id = (JSON.parse(body) as { variables: { id: string } }).variables.id;
  const [night] = await sql<{ id: string; club_id: string; starts_at: Date; availability_version: string; currency: string }[]>`
    select n.id, n.club_id, n.starts_at, n.availability_version, c.currency from nights n join clubs c on c.id = n.club_id where n.id = ${id}`;
  if (!night) return { status: 200, json: '{"data":{"night":null}}' };
  const clubIds = (payload.clubIds as string[] | undefined) ?? [];
  if (!clubIds.includes(night.club_id)) return { status: 200, json: '{"data":{"night":{"id":' + JSON.stringify(night.id) + ',"tables":null}}}' };
  const tables = await tablesOf(night);
  const sessionIds = tables.flatMap((t) => (t.session_id ? [t.session_id] : []));
  const summaries = sessionIds.length
    ? await sql<{ id: string; session_id: string; amount_minor: number; currency: string; total: string }[]>`
        select distinct on (session_id) id, session_id, amount_minor, currency, sum(amount_minor) over (partition by session_id) as total
        from deposits where session_id = any(${sessionIds}::uuid[]) order by session_id, recorded_at desc, id desc`
    : [];
  const bySession = new Map(summaries.map((s) => [s.session_id, s]));
  const currency = JSON.stringify(night.currency);
  let json = '{"data":{"night":{"id":' + JSON.stringify(night.id) + ',"tables":[';
  tables.forEach((t, i) => {
    const summary = t.session_id ? bySession.get(t.session_id) : undefined;
    json += (i ? ',' : '') + '{"table":{"id":"' + t.id + '","label":' + JSON.stringify(t.label) + ',"capacity":' + t.capacity + '},"state":"' + t.state + '"';
    json += ',"session":' + (t.session_id ? '{"id":"' + t.session_id + '","openedAt":"' + t.opened_at!.toISOString() + '"}' : 'null');
    json += ',"latestDeposit":' + (summary ? '{"id":"' + summary.id + '","amount":{"amountMinor":' + summary.amount_minor + ',"currency":' + JSON.stringify(summary.currency) + '}}' : 'null');
    json += ',"depositTotal":{"amountMinor":' + (summary ? Number(summary.total) : 0) + ',"currency":' + currency + '}}';
  });
  return { status: 200, json: json + ']}}}' };
}

serveFloor(answer);
