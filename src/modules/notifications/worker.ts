import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import pLimit from 'p-limit';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { anyId } from '../../db/any.js';
import { outbox, telegramLinks, webhooks, type OutboxRow, type Webhook } from '../../db/schema.js';
import { groupBy } from '../../graphql/batch.js';
import type { PubSub } from '../../platform/pubsub.js';
import { failSpan, linkTo, withSpan } from '../../platform/tracing.js';
import { NOTIFICATION_TOPIC, type NotificationPayload } from './producers.js';
import type { TelegramChannel } from '../telegram/channel.js';
import { telegramText } from '../telegram/text.js';
import { postWebhook } from './webhook.js';

/** The pub/sub topic workers listen on: producers publish to it after they commit rows. */
export const OUTBOX_WAKE_TOPIC = 'outbox:wake';
/** Where a user's live notifications are published, on every instance. */
export const notificationsTopic = (userId: string) => `notifications:${userId}`;
/** The delivery target of the signed-in user's `notifications` subscriptions. */
const LIVE_TARGET = 'live';
/** The delivery target of the user's linked Telegram chat (one per user). */
const TELEGRAM_TARGET = 'telegram';

export type OutboxSettings = Config['outbox'];

/** A notification as subscribers and webhook receivers get it. */
export interface NotificationMessage extends Omit<NotificationPayload, 'userId'> {
  id: string;
  createdAt: string;
}

export type DeliveryChannel = 'live' | 'webhook' | 'telegram';

export interface OutboxMetrics {
  delivered(channel: DeliveryChannel, outcome: 'delivered' | 'failed' | 'given_up', seconds: number): void;
  rows(outcome: 'processed' | 'retried' | 'dead' | 'deferred', count: number): void;
}

/**
 * Claims up to `limit` due rows for one delivery attempt: rows another worker is
 * claiming are skipped (SKIP LOCKED) and claimed rows become due again only when the
 * lease runs out, so no two workers hold a row in the same attempt. The lease token
 * fences the writes that finish the attempt.
 */
export async function claimOutboxBatch(db: Database, limit: number, leaseSeconds: number): Promise<{ token: string; rows: OutboxRow[] }> {
  const token = randomUUID();
  const due = db
    .select({ id: outbox.id })
    .from(outbox)
    .where(and(isNull(outbox.processedAt), isNull(outbox.deadAt), lte(outbox.availableAt, sql`now()`)))
    .orderBy(asc(outbox.availableAt), asc(outbox.id))
    .limit(limit)
    .for('update', { skipLocked: true });
  const lease = sql`now() + make_interval(secs => ${leaseSeconds})`;
  const rows = await db
    .update(outbox)
    .set({ leaseToken: token, leaseUntil: lease, availableAt: lease, attempts: sql`${outbox.attempts} + 1` })
    .where(inArray(outbox.id, due))
    .returning();
  return { token, rows: rows.sort((a, b) => a.id - b.id) };
}

/** Exponential backoff with jitter: between half and all of base·2^(attempt−1), capped. */
export function retryDelayMs(attempt: number, settings: Pick<OutboxSettings, 'retryBaseMs' | 'retryMaxMs'>): number {
  const ceiling = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export interface OutboxDeps {
  db: Database;
  pubsub: PubSub;
  settings: OutboxSettings;
  metrics?: OutboxMetrics;
  /** After campaign messages of these clubs were recorded delivered: their night reports count them. */
  campaignsDelivered?: (clubIds: string[]) => Promise<void>;
  /** The third target, when the bot is configured: linked chats get each notification as a message. */
  telegram?: {
    channel: Pick<TelegramChannel, 'send'>;
    /** Telegram answered 403 for the user's chat: the link is dead. */
    blocked(userId: string, chatId: number): Promise<void>;
  };
}

interface Attempt {
  row: OutboxRow;
  /** Targets reached, this attempt and earlier ones. */
  reached: string[];
  /** Targets that will never take the row, this attempt and earlier ones. */
  givenUp: string[];
  /** Why targets were given up on in this attempt. */
  givenUpWhy?: string;
  /** A target has no room yet: the row is due again in this many ms. */
  deferMs?: number;
  error?: string;
}

/**
 * Delivers one claimed batch with bounded parallelism and records the outcome of each
 * row under the batch's lease: delivered, due again after a backoff, or dead-letter
 * after `maxAttempts`. A row whose lease ran out meanwhile is left to its new holder.
 * With tracing on, the batch is a span, and each row's delivery a span in it that links
 * to the trace of the work that wrote the row (its `trace_parent`).
 */
export async function deliverBatch(
  deps: OutboxDeps,
  batch: { token: string; rows: OutboxRow[] },
): Promise<Attempt[]> {
  return withSpan('outbox deliver batch', { attributes: { 'messaging.system': 'nightgraph.outbox', 'messaging.batch.message_count': batch.rows.length } }, () =>
    deliverClaimed(deps, batch),
  );
}

async function deliverClaimed(deps: OutboxDeps, batch: { token: string; rows: OutboxRow[] }): Promise<Attempt[]> {
  const { db, settings, metrics } = deps;
  const userIds = [...new Set(batch.rows.filter((r) => r.topic === NOTIFICATION_TOPIC).map((r) => (r.payload as NotificationPayload).userId))];
  const [hooks, chats] = await Promise.all([
    userIds.length === 0 ? new Map<string, Webhook[]>() : db.select().from(webhooks).where(anyId(webhooks.userId, userIds)).then((rows) => groupBy(rows, (w) => w.userId)),
    userIds.length === 0 || !deps.telegram
      ? new Map<string, number>()
      : db
          .select({ userId: telegramLinks.userId, chatId: telegramLinks.chatId })
          .from(telegramLinks)
          .where(and(anyId(telegramLinks.userId, userIds), isNull(telegramLinks.deadAt)))
          .then((rows) => new Map(rows.map((r) => [r.userId, r.chatId]))),
  ]);
  const limit = pLimit(settings.concurrency);

  const attempts = await Promise.all(
    batch.rows.map((row) =>
      limit(() =>
        withSpan(`outbox deliver ${row.topic}`, { attributes: deliveryAttributes(row), links: linkTo(row.traceParent) }, async (span): Promise<Attempt> => {
          const attempt = await deliverRow(deps, row, targetsOf(deps, row, hooks, chats));
          if (span && attempt.error !== undefined) failSpan(span, attempt.error);
          return attempt;
        }),
      ),
    ),
  );

  const done = attempts.filter((a) => a.error === undefined && a.deferMs === undefined);
  const failed = attempts.filter((a) => a.error !== undefined);
  const deferred = attempts.filter((a) => a.error === undefined && a.deferMs !== undefined);
  const fenced = (id: number) => and(eq(outbox.id, id), eq(outbox.leaseToken, batch.token));
  const finished = { leaseToken: null, leaseUntil: null };
  const writes: Promise<unknown>[] = [];
  const plain = done.filter((a) => a.givenUp.length === 0);
  if (plain.length > 0) {
    writes.push(
      db
        .update(outbox)
        .set({ ...finished, processedAt: sql`now()`, lastError: null })
        .where(and(inArray(outbox.id, plain.map((a) => a.row.id)), eq(outbox.leaseToken, batch.token))),
    );
  }
  // Done, with a target given up on: the row keeps why.
  for (const attempt of done.filter((a) => a.givenUp.length > 0)) {
    writes.push(
      db
        .update(outbox)
        .set({ ...finished, processedAt: sql`now()`, deliveredTo: attempt.reached, givenUp: attempt.givenUp, lastError: attempt.givenUpWhy!.slice(0, 1_000) })
        .where(fenced(attempt.row.id)),
    );
  }
  let dead = 0;
  for (const attempt of failed) {
    const final = attempt.row.attempts >= settings.maxAttempts;
    if (final) dead++;
    const delayMs = Math.max(retryDelayMs(attempt.row.attempts, settings), attempt.deferMs ?? 0);
    writes.push(
      db
        .update(outbox)
        .set({
          ...finished,
          lastError: attempt.error!.slice(0, 1_000),
          deliveredTo: attempt.reached,
          givenUp: attempt.givenUp,
          ...(final ? { deadAt: sql`now()` } : { availableAt: sql`now() + make_interval(secs => ${delayMs / 1000})` }),
        })
        .where(fenced(attempt.row.id)),
    );
  }
  // Held back by a target's pace (Telegram's limits): due again when it has room, and the
  // attempt does not count — waiting one's turn is no failure.
  for (const attempt of deferred) {
    writes.push(
      db
        .update(outbox)
        .set({
          ...finished,
          deliveredTo: attempt.reached,
          givenUp: attempt.givenUp,
          attempts: sql`${outbox.attempts} - 1`,
          availableAt: sql`now() + make_interval(secs => ${attempt.deferMs! / 1000})`,
        })
        .where(fenced(attempt.row.id)),
    );
  }
  await Promise.all(writes);
  const campaignClubs = new Set(done.flatMap((a) => (a.row.campaignId ? [(a.row.payload as NotificationPayload).clubId!] : [])));
  if (campaignClubs.size > 0) await deps.campaignsDelivered?.([...campaignClubs]);
  metrics?.rows('processed', done.length);
  metrics?.rows('retried', failed.length - dead);
  metrics?.rows('dead', dead);
  metrics?.rows('deferred', deferred.length);
  return attempts;
}

/** How one target took a message. */
type TargetOutcome =
  | { kind: 'reached' }
  /** Worth another attempt, after the backoff. */
  | { kind: 'failed'; error: string }
  /** Never going to take it: skipped from now on. */
  | { kind: 'given-up'; why: string }
  /** Not tried yet: come back in `ms`. */
  | { kind: 'deferred'; ms: number };

interface Target {
  key: string;
  channel: DeliveryChannel;
  send(): Promise<TargetOutcome>;
}

/** Where a row goes: the user's live subscriptions, each of their webhooks, their Telegram chat. */
function targetsOf(deps: OutboxDeps, row: OutboxRow, hooks: Map<string, Webhook[]>, chats: Map<string, number>): Target[] {
  if (row.topic !== NOTIFICATION_TOPIC) return [];
  const { userId, ...rest } = row.payload as NotificationPayload;
  const message: NotificationMessage = { id: String(row.id), ...rest, createdAt: row.createdAt.toISOString() };
  const body = JSON.stringify(message);
  const thrown = (name: string, send: () => Promise<void>) => async (): Promise<TargetOutcome> => {
    try {
      await send();
      return { kind: 'reached' };
    } catch (error) {
      return { kind: 'failed', error: `${name}: ${error instanceof Error ? error.message : String(error)}` };
    }
  };
  const targets: Target[] = [
    { key: LIVE_TARGET, channel: 'live', send: thrown('live', () => deps.pubsub.publish(notificationsTopic(userId), body)) },
    ...(hooks.get(userId) ?? []).map((hook) => ({
      key: hook.id,
      channel: 'webhook' as const,
      send: thrown(`webhook ${hook.id}`, () => postWebhook(hook.url, hook.secret, { id: message.id, event: message.kind, body }, deps.settings.webhookTimeoutMs)),
    })),
  ];
  const chatId = chats.get(userId);
  const telegram = deps.telegram;
  if (chatId !== undefined && telegram) {
    targets.push({
      key: TELEGRAM_TARGET,
      channel: 'telegram',
      async send() {
        const sent = await telegram.channel.send(chatId, telegramText(row.payload as NotificationPayload));
        switch (sent.kind) {
          case 'sent':
            return { kind: 'reached' };
          case 'deferred':
            return { kind: 'deferred', ms: sent.retryInMs };
          case 'rate-limited':
            return { kind: 'deferred', ms: sent.retryAfterS * 1_000 };
          case 'blocked':
            await telegram.blocked(userId, chatId);
            return { kind: 'given-up', why: `telegram: the chat blocked the bot (${sent.description})` };
          case 'rejected':
            return { kind: 'given-up', why: `telegram: HTTP ${sent.status} ${sent.description}` };
          case 'unavailable':
            return { kind: 'failed', error: `telegram: ${sent.reason}` };
        }
      },
    });
  }
  return targets;
}

/** Tries every target the row has not reached or given up on yet, side by side. */
async function deliverRow(deps: OutboxDeps, row: OutboxRow, targets: Target[]): Promise<Attempt> {
  const reached = [...row.deliveredTo];
  const givenUp = [...row.givenUp];
  if (row.topic !== NOTIFICATION_TOPIC) return { row, reached, givenUp, error: `no deliverer for topic ${row.topic}` };
  const errors: string[] = [];
  const why: string[] = [];
  let deferMs: number | undefined;
  await Promise.all(
    targets
      .filter((target) => !reached.includes(target.key) && !givenUp.includes(target.key))
      .map(async (target) => {
        const started = performance.now();
        const outcome = await target.send();
        const seconds = (performance.now() - started) / 1000;
        switch (outcome.kind) {
          case 'reached':
            reached.push(target.key);
            deps.metrics?.delivered(target.channel, 'delivered', seconds);
            break;
          case 'failed':
            errors.push(outcome.error);
            deps.metrics?.delivered(target.channel, 'failed', seconds);
            break;
          case 'given-up':
            givenUp.push(target.key);
            why.push(outcome.why);
            deps.metrics?.delivered(target.channel, 'given_up', seconds);
            break;
          case 'deferred':
            deferMs = Math.max(deferMs ?? 0, outcome.ms);
            break;
        }
      }),
  );
  const attempt: Attempt = { row, reached, givenUp, ...(why.length > 0 && { givenUpWhy: why.join('; ') }), ...(deferMs !== undefined && { deferMs }) };
  return errors.length === 0 ? attempt : { ...attempt, error: errors.join('; ') };
}

/** What a delivery span says of its row: which, which attempt, and the targets reached before. */
function deliveryAttributes(row: OutboxRow) {
  return {
    'messaging.system': 'nightgraph.outbox',
    'messaging.destination.name': row.topic,
    'messaging.message.id': String(row.id),
    'nightgraph.outbox.attempt': row.attempts,
    'nightgraph.outbox.reached_before': row.deliveredTo.length,
  };
}

export interface OutboxWorkers {
  /** Producers call this after committing rows (locally, or through the wake topic). */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * `settings.workers` loops on this instance, each claiming a batch, delivering it and
 * claiming the next; an idle loop sleeps until woken (a producer committed rows, here or
 * on another instance) or `pollMs` passes, which also picks up retries coming due.
 */
export function startOutboxWorkers(
  deps: OutboxDeps,
  onError: (error: unknown) => void,
): OutboxWorkers {
  const { db, settings } = deps;
  let stopped = false;
  const sleepers = new Set<() => void>();
  const wake = () => {
    for (const resume of sleepers) resume();
    sleepers.clear();
  };
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        sleepers.delete(done);
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      sleepers.add(done);
    });

  const loop = async () => {
    while (!stopped) {
      try {
        const batch = await claimOutboxBatch(db, settings.batchSize, settings.leaseSeconds);
        if (batch.rows.length > 0) {
          await deliverBatch(deps, batch);
          continue;
        }
      } catch (error) {
        onError(error);
      }
      if (!stopped) await idle(settings.pollMs);
    }
  };
  const unsubscribe = deps.pubsub.subscribe(OUTBOX_WAKE_TOPIC, wake).catch((error: unknown) => {
    onError(error);
    return async () => {};
  });
  const loops = Array.from({ length: settings.workers }, loop);
  return {
    wake,
    async stop() {
      stopped = true;
      wake();
      await Promise.all(loops);
      await (await unsubscribe)();
    },
  };
}

/** Queue depth, lag and dead-letter size, for metrics: reads the pending rows through their partial index. */
export async function outboxStats(db: Database): Promise<{ pending: number; lagSeconds: number; dead: number }> {
  const [pending] = await db
    .select({
      count: sql<number>`count(*)::int`,
      lag: sql<number>`coalesce(extract(epoch from now() - min(${outbox.createdAt})), 0)::float8`,
    })
    .from(outbox)
    .where(and(isNull(outbox.processedAt), isNull(outbox.deadAt)));
  const [dead] = await db.select({ count: sql<number>`count(*)::int` }).from(outbox).where(isNotNull(outbox.deadAt));
  return { pending: pending!.count, lagSeconds: pending!.lag, dead: dead!.count };
}
