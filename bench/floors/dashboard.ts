// The floor for `dashboard`: the same four statements Nightgraph sends for the query (the
// caller's user row, the tracked page, the item counts, the first five items of each
// streamer), by hand through postgres.js and node:http, the JSON written by hand.
import { claimsOf, NO_TOKEN, serveFloor, sql } from './serve.js';

const PAGE = 50;
const ITEMS = 5;

async function answer(authorization: string | undefined): Promise<{ status: number; json: string }> {
  const payload = await claimsOf(authorization);
  if (!payload) return NO_TOKEN;
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

serveFloor(answer);
