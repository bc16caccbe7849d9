// The floor for `dashboard`: the same four statements Nightgraph sends for the query (the
// caller's user row, the tracked page, the item counts, the first five items of each
// streamer), by hand through postgres.js and node:http, the JSON written by hand.
import { createServer } from 'node:http';
import { jwtVerify } from 'jose';
import postgres from 'postgres';

const sql = postgres(process.env.DATABASE_URL!, { max: Number(process.env.DB_POOL_MAX ?? 10), prepare: true, onnotice: () => {} });
const key = new TextEncoder().encode(process.env.JWT_SECRET!);
const PAGE = 50;
const ITEMS = 5;

async function answer(authorization: string | undefined): Promise<{ status: number; json: string }> {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return { status: 401, json: '{"errors":[{"message":"no token"}]}' };
  const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: 'nightgraph' });
  const [user] = await sql<{ id: string }[]>`select id from users where subject = ${payload.sub!} limit 1`;
  if (!user) return { status: 200, json: '{"data":{"me":null}}' };
  const tracked = await sql<{ streamer_id: string; tracked_at: Date; handle: string; display_name: string }[]>`
    select us.streamer_id, us.tracked_at, s.handle, s.display_name
    from user_streamers us join streamers s on s.id = us.streamer_id
    where us.user_id = ${user.id} order by us.tracked_at desc, us.streamer_id desc limit ${PAGE + 1}`;
  const page = tracked.slice(0, PAGE);
  const ids = page.map((t) => t.streamer_id);
  const [counts, items] = await Promise.all([
    sql<{ streamer_id: string; count: number }[]>`
      select streamer_id, count(*)::int as count from wishlist_items where streamer_id = any(${ids}::uuid[]) and removed_at is null group by streamer_id`,
    sql<{ streamer_id: string; id: string; title: string; price_minor: number | null; currency: string | null }[]>`
      select w.streamer_id, w.id, w.title, w.price_minor, w.currency from streamers s cross join lateral (
        select * from wishlist_items where streamer_id = s.id and removed_at is null order by first_seen_at desc, id desc limit ${ITEMS + 1}) w
      where s.id = any(${ids}::uuid[]) order by w.streamer_id, w.first_seen_at desc, w.id desc`,
  ]);
  const countOf = new Map(counts.map((c) => [c.streamer_id, c.count]));
  type Item = (typeof items)[number];
  const itemsOf = new Map<string, Item[]>();
  for (const item of items) itemsOf.set(item.streamer_id, [...(itemsOf.get(item.streamer_id) ?? []), item]);
  let json = '{"data":{"me":{"trackedStreamers":{"edges":[';
  page.forEach((t, i) => {
    json += (i ? ',' : '') + '{"trackedAt":"' + t.tracked_at.toISOString() + '","node":{"id":"' + t.streamer_id + '","handle":' + JSON.stringify(t.handle);
    json += ',"displayName":' + JSON.stringify(t.display_name) + ',"wishlistItemsCount":' + (countOf.get(t.streamer_id) ?? 0) + ',"wishlist":{"edges":[';
    (itemsOf.get(t.streamer_id) ?? []).slice(0, ITEMS).forEach((w, k) => {
      const price = w.price_minor === null || w.currency === null ? 'null' : '{"amountMinor":' + w.price_minor + ',"currency":"' + w.currency + '"}';
      json += (k ? ',' : '') + '{"node":{"id":"' + w.id + '","title":' + JSON.stringify(w.title) + ',"price":' + price + '}}';
    });
    json += ']}}}';
  });
  return { status: 200, json: json + ']}}}}' };
}

const server = createServer((req, res) => {
  if (req.url === '/readyz') {
    res.end('{"status":"ready"}');
    return;
  }
  req.resume();
  req.on('end', () => {
    answer(req.headers.authorization).then(
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
