// The floor for `night-tables`: what a hand-written server does for the same query with
// the same statements Nightgraph sends — a minimal node:http handler, the same JWT check,
// postgres.js prepared statements, and the answer's JSON written by hand. Nightgraph ÷
// this is the room left. It answers only the scenario's query (its text is not read).
import { createServer } from 'node:http';
import { jwtVerify } from 'jose';
import postgres from 'postgres';

const sql = postgres(process.env.DATABASE_URL!, { max: Number(process.env.DB_POOL_MAX ?? 10), prepare: true, onnotice: () => {} });
const key = new TextEncoder().encode(process.env.JWT_SECRET!);
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
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return { status: 401, json: '{"errors":[{"message":"no token"}]}' };
  const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: 'nightgraph' });
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

const server = createServer((req, res) => {
  if (req.url === '/readyz') {
    res.end('{"status":"ready"}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    answer(req.headers.authorization, Buffer.concat(chunks).toString('utf8')).then(
      ({ status, json }) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
        res.end(json);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: String(error) }] }));
      },
    );
  });
});
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  void sql.end({ timeout: 5 }).then(() => process.exit(0));
});
