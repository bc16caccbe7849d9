import { and, eq, sql } from 'drizzle-orm';
import { campaigns, webhooks, type Campaign, type User, type Webhook } from '../../db/schema.js';
import { AppError, badInput, conflict, ErrorCode, forbidden, isUniqueViolation, notFound } from '../../errors.js';
import { isHttpUrl } from '../http-url.js';
import { isUuid } from '../../graphql/batch.js';
import { requirePrincipal } from '../../platform/auth.js';
import { isManagerOf } from '../staff/service.js';
import type { Scope } from '../scope.js';
import { queueCampaign } from './producers.js';
import { newWebhookSecret } from './webhook.js';
import type { NotificationMessage } from './worker.js';
import { requireFullView } from '../users/visibility.js';

const MAX_WEBHOOKS_PER_USER = 10;
const MAX_MESSAGE_LENGTH = 1_000;

/** The signed-in user's notifications as they are delivered, on whichever instance they connect to. */
export async function watchNotifications(scope: Scope): Promise<AsyncIterable<{ notifications: NotificationMessage }>> {
  requirePrincipal(scope.viewer);
  const user = await scope.currentUser();
  const messages = await scope.notifications.watch(user.id);
  const iterator: AsyncIterableIterator<{ notifications: NotificationMessage }> = {
    async next() {
      const next = await messages.next();
      return next.done ? { value: undefined, done: true } : { value: { notifications: JSON.parse(next.value) as NotificationMessage }, done: false };
    },
    async return() {
      await messages.return!();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * Registers an http(s) endpoint for the caller's notifications and returns its signing
 * secret, which is shown only here. The same URL twice is CONFLICT.
 */
export async function registerWebhook(scope: Scope, url: string): Promise<{ webhook: Webhook; secret: string }> {
  requirePrincipal(scope.viewer);
  const target = url.trim();
  if (!isHttpUrl(target)) throw badInput('url must be an http(s) URL of at most 2,000 characters');
  const user = await scope.currentUser();
  const secret = newWebhookSecret();
  try {
    const webhook = await scope.db.transaction(async (tx) => {
      const [{ count }] = (await tx
        .select({ count: sql<number>`count(*)::int` })
        .from(webhooks)
        .where(eq(webhooks.userId, user.id))) as [{ count: number }];
      if (count >= MAX_WEBHOOKS_PER_USER) throw badInput(`A user may register at most ${MAX_WEBHOOKS_PER_USER} webhooks`);
      const [row] = await tx.insert(webhooks).values({ userId: user.id, url: target, secret }).returning();
      return row!;
    });
    return { webhook, secret };
  } catch (error) {
    if (isUniqueViolation(error, 'webhooks_user_url_key')) throw conflict('This URL is already registered');
    throw error;
  }
}

/** Removes one of the caller's webhooks; false if there was none with that id. */
export async function deleteWebhook(scope: Scope, id: string): Promise<boolean> {
  requirePrincipal(scope.viewer);
  if (!isUuid(id)) return false;
  const user = await scope.currentUser();
  const deleted = await scope.db.delete(webhooks).where(and(eq(webhooks.id, id), eq(webhooks.userId, user.id))).returning({ id: webhooks.id });
  return deleted.length > 0;
}

/** The user's webhooks, oldest first: the user (and admins) only. */
export async function webhooksOf(scope: Scope, user: User): Promise<Webhook[]> {
  requirePrincipal(scope.viewer);
  await requireFullView(scope, user, 'webhooks');
  return scope.loaders.webhooksByUser.load(user.id);
}

/**
 * Sends a message to every guest who booked at the club (its manager): one outbox row
 * per recipient, written with the campaign in one transaction, so a crash loses none and
 * progress is counted from the rows. A retry with the same idempotency key returns the
 * first campaign.
 */
export async function sendCampaign(
  scope: Scope,
  input: { clubId: string; message: string; idempotencyKey?: string | null },
): Promise<Campaign> {
  requirePrincipal(scope.viewer);
  const club = isUuid(input.clubId) ? await scope.loaders.clubById.load(input.clubId) : null;
  if (!club) throw notFound('Club', input.clubId);
  if (!(await isManagerOf(scope, club.id))) throw forbidden('Only a manager of the club may send campaigns');
  const message = input.message.trim();
  if (message.length === 0 || message.length > MAX_MESSAGE_LENGTH) throw badInput(`message must be 1 to ${MAX_MESSAGE_LENGTH} characters`);
  const key = input.idempotencyKey ?? null;
  if (key !== null && (key.length === 0 || key.length > 200)) throw badInput('idempotencyKey must be 1 to 200 characters');
  const user = await scope.currentUser();

  const replay = async () => {
    if (key === null) return null;
    const [existing] = await scope.db
      .select()
      .from(campaigns)
      .where(and(eq(campaigns.clubId, club.id), eq(campaigns.idempotencyKey, key)));
    if (existing && existing.message !== message) throw new AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotencyKey was used for another campaign');
    return existing ?? null;
  };
  const earlier = await replay();
  if (earlier) return earlier;
  try {
    const campaign = await scope.db.transaction(async (tx) => {
      const [created] = await tx.insert(campaigns).values({ clubId: club.id, message, createdBy: user.id, idempotencyKey: key, recipients: 0 }).returning();
      const recipients = await queueCampaign(tx, created!);
      const [counted] = await tx.update(campaigns).set({ recipients }).where(eq(campaigns.id, created!.id)).returning();
      return counted!;
    });
    // Its messages count in the report of the club's nights ending within the week.
    await scope.reports.changed([club.id]);
    scope.notifications.wake();
    return campaign;
  } catch (error) {
    if (isUniqueViolation(error, 'campaigns_club_idempotency_key')) {
      const winner = await replay();
      if (winner) return winner;
    }
    throw error;
  }
}

/** A campaign, for a manager of its club; NOT_FOUND for anyone else (its existence is not public). */
export async function campaignById(scope: Scope, id: string): Promise<Campaign | null> {
  requirePrincipal(scope.viewer);
  const campaign = isUuid(id) ? await scope.loaders.campaignById.load(id) : null;
  if (!campaign) return null;
  if (!(await isManagerOf(scope, campaign.clubId))) throw forbidden('Only a manager of the club may see its campaigns');
  return campaign;
}

export async function campaignProgress(scope: Scope, campaign: Campaign) {
  return (await scope.loaders.campaignProgress.load(campaign.id)) ?? { campaignId: campaign.id, sent: 0, failed: 0, pending: 0 };
}
