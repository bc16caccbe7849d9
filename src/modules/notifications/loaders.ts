import { asc, sql } from 'drizzle-orm';
import { anyId } from '../../db/any.js';
import type { Database } from '../../db/client.js';
import { preparedPerDatabase } from '../../db/prepared.js';
import { campaigns, outbox, webhooks } from '../../db/schema.js';
import { listLoader, rowLoader, type BatchOptions } from '../../graphql/batch.js';

/** How far a campaign's rows have got: delivered, given up on (dead-letter), still to go. */
export interface CampaignProgressRow {
  campaignId: string;
  sent: number;
  failed: number;
  pending: number;
}

const queries = preparedPerDatabase((db) => {
  const ids = sql.placeholder('ids');
  return {
    campaignsById: db.select().from(campaigns).where(anyId(campaigns.id, ids)).prepare('campaigns_by_id'),
    campaignProgress: db
      .select({
        campaignId: sql<string>`${outbox.campaignId}`,
        sent: sql<number>`(count(*) filter (where ${outbox.processedAt} is not null))::int`,
        failed: sql<number>`(count(*) filter (where ${outbox.deadAt} is not null))::int`,
        pending: sql<number>`(count(*) filter (where ${outbox.processedAt} is null and ${outbox.deadAt} is null))::int`,
      })
      .from(outbox)
      .where(anyId(outbox.campaignId, ids))
      .groupBy(outbox.campaignId)
      .prepare('campaign_progress'),
    webhooksByUser: db
      .select()
      .from(webhooks)
      .where(anyId(webhooks.userId, ids))
      .orderBy(asc(webhooks.userId), asc(webhooks.createdAt), asc(webhooks.id))
      .prepare('webhooks_by_user'),
  };
});

export function createNotificationLoaders(db: Database, options: BatchOptions) {
  const q = queries(db);
  return {
    campaignById: rowLoader((ids) => q.campaignsById.execute({ ids }), (c) => c.id, options),
    campaignProgress: rowLoader((ids) => q.campaignProgress.execute({ ids }) as Promise<CampaignProgressRow[]>, (row) => row.campaignId, options),
    webhooksByUser: listLoader((ids) => q.webhooksByUser.execute({ ids }), (w) => w.userId, options),
  };
}
