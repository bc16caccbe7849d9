import { sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { executeRows } from '../../db/any.js';
import type { Campaign } from '../../db/schema.js';
import { activeTraceparent } from '../../platform/tracing.js';

/** The outbox topic of a notification to one user; its payload is a `NotificationPayload`. */
export const NOTIFICATION_TOPIC = 'notification';

export type NotificationKind = 'WISHLIST_ITEM_ADDED' | 'CAMPAIGN' | 'NIGHT_CANCELLED';

/** What an outbox row of the notification topic carries (its id and time are the row's). */
export interface NotificationPayload {
  kind: NotificationKind;
  userId: string;
  message: string;
  streamerId?: string;
  wishlistItemId?: string;
  item?: { title: string; price: { amountMinor: number; currency: string } | null; url: string | null; imageUrl: string | null };
  clubId?: string;
  campaignId?: string;
  nightId?: string;
  reason?: string;
}

/**
 * In the sync's transaction: one outbox row per tracker of the streamer for each new
 * item, in one statement. The dedup key makes a repeated write of the same item to the
 * same fan a no-op. Returns the number of rows written.
 */
export async function queueNotificationsForNewItems(tx: Executor, streamerName: string, itemIds: string[]): Promise<number> {
  if (itemIds.length === 0) return 0;
  const rows = await executeRows(
    tx,
    sql`insert into outbox (topic, dedup_key, payload, trace_parent)
      select ${NOTIFICATION_TOPIC}, 'wishlist-item:' || i.id || ':' || t.user_id,
        jsonb_build_object(
          'kind', 'WISHLIST_ITEM_ADDED',
          'userId', t.user_id,
          'message', ${streamerName}::text || ' added "' || i.title || '" to their wishlist',
          'streamerId', i.streamer_id,
          'wishlistItemId', i.id,
          'item', jsonb_build_object(
            'title', i.title,
            'price', case when i.price_minor is null then null
              else jsonb_build_object('amountMinor', i.price_minor, 'currency', i.currency) end,
            'url', i.url,
            'imageUrl', i.image_url)),
        ${activeTraceparent()}::text
      from wishlist_items i join user_streamers t on t.streamer_id = i.streamer_id
      where i.id = any(${sql.param(itemIds)}::uuid[])
      on conflict (dedup_key) do nothing
      returning id`,
  );
  return rows.length;
}

/**
 * In the campaign's transaction: one outbox row per user who booked a table at any of
 * the club's nights (bookings checked in at the door included), in one statement.
 * Returns the number of rows written.
 */
export async function queueCampaign(tx: Executor, campaign: Campaign): Promise<number> {
  const rows = await executeRows(
    tx,
    sql`insert into outbox (topic, dedup_key, payload, campaign_id, trace_parent)
      select ${NOTIFICATION_TOPIC}, 'campaign:' || ${campaign.id}::text || ':' || r.user_id,
        jsonb_build_object(
          'kind', 'CAMPAIGN',
          'userId', r.user_id,
          'message', ${campaign.message}::text,
          'clubId', ${campaign.clubId}::text,
          'campaignId', ${campaign.id}::text),
        ${campaign.id}::uuid, ${activeTraceparent()}::text
      from (select distinct b.user_id from bookings b join nights n on n.id = b.night_id where n.club_id = ${campaign.clubId}::uuid) r
      on conflict (dedup_key) do nothing
      returning id`,
  );
  return rows.length;
}

/**
 * In the cancellation's transaction: one outbox row per guest whose booking of the night
 * it cancelled, in one statement; a repeated write for the same night and guest is a no-op.
 */
export async function queueNightCancelled(
  tx: Executor,
  night: { id: string; clubId: string; startsAt: Date },
  clubName: string,
  reason: string,
  userIds: readonly string[],
): Promise<number> {
  if (userIds.length === 0) return 0;
  const message = `${clubName} cancelled the night of ${night.startsAt.toISOString().slice(0, 10)}: ${reason}`;
  const rows = await executeRows(
    tx,
    sql`insert into outbox (topic, dedup_key, payload, trace_parent)
      select ${NOTIFICATION_TOPIC}, 'night-cancelled:' || ${night.id}::text || ':' || u.user_id,
        jsonb_build_object(
          'kind', 'NIGHT_CANCELLED',
          'userId', u.user_id,
          'message', ${message}::text,
          'clubId', ${night.clubId}::text,
          'nightId', ${night.id}::text,
          'reason', ${reason}::text),
        ${activeTraceparent()}::text
      from (select distinct unnest(${sql.param([...userIds])}::uuid[]) as user_id) u
      on conflict (dedup_key) do nothing
      returning id`,
  );
  return rows.length;
}
