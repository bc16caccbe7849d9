import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import pLimit from 'p-limit';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { anyId } from '../../db/any.js';
import { outbox, webhooks, type OutboxRow, type Webhook } from '../../db/schema.js';
import { groupBy } from '../../graphql/batch.js';
import type { PubSub } from '../../platform/pubsub.js';
import { failSpan, linkTo, withSpan } from '../../platform/tracing.js';
import { NOTIFICATION_TOPIC, type NotificationPayload } from './producers.js';
import { postWebhook } from './webhook.js';

/** The pub/sub topic workers listen on: producers publish to it after they commit rows. */
export const OUTBOX_WAKE_TOPIC = 'outbox:wake';
/** Where a user's live notifications are published, on every instance. */
export const notificationsTopic = (userId: string) => `notifications:${userId}`;
/** The delivery target of the signed-in user's `notifications` subscriptions. */
const LIVE_TARGET = 'live';

export type OutboxSettings = Config['outbox'];

/** A notification as subscribers and webhook receivers get it. */
export interface NotificationMessage extends Omit<NotificationPayload, 'userId'> {
  id: string;
  createdAt: string;
}

export interface OutboxMetrics {
  delivered(channel: 'live' | 'webhook', outcome: 'delivered' | 'failed', seconds: number): void;
  rows(outcome: 'processed' | 'retried' | 'dead', count: number): void;
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
}

interface Attempt {
  row: OutboxRow;
  /** Targets reached, this attempt and earlier ones. */
  reached: string[];
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
  const { db, pubsub, settings, metrics } = deps;
  const userIds = [...new Set(batch.rows.filter((r) => r.topic === NOTIFICATION_TOPIC).map((r) => (r.payload as NotificationPayload).userId))];
  const hooks = userIds.length === 0 ? new Map<string, Webhook[]>() : groupBy(await db.select().from(webhooks).where(anyId(webhooks.userId, userIds)), (w) => w.userId);
  const limit = pLimit(settings.concurrency);

  const attempts = await Promise.all(
    batch.rows.map((row) =>
      limit(() => withSpan(`outbox deliver ${row.topic}`, { attributes: deliveryAttributes(row), links: linkTo(row.traceParent) }, async (span): Promise<Attempt> => {
        if (row.topic !== NOTIFICATION_TOPIC) return { row, reached: row.deliveredTo, error: `no deliverer for topic ${row.topic}` };
        const { userId, ...rest } = row.payload as NotificationPayload;
        const message: NotificationMessage = { id: String(row.id), ...rest, createdAt: row.createdAt.toISOString() };
        const body = JSON.stringify(message);
        const reached = [...row.deliveredTo];
        const errors: string[] = [];
        const targets: { key: string; send: () => Promise<void>; channel: 'live' | 'webhook' }[] = [
          { key: LIVE_TARGET, channel: 'live', send: () => pubsub.publish(notificationsTopic(userId), body) },
          ...(hooks.get(userId) ?? []).map((hook) => ({
            key: hook.id,
            channel: 'webhook' as const,
            send: () => postWebhook(hook.url, hook.secret, { id: message.id, event: message.kind, body }, settings.webhookTimeoutMs),
          })),
        ];
        await Promise.all(
          targets
            .filter((target) => !reached.includes(target.key))
            .map(async (target) => {
              const started = performance.now();
              try {
                await target.send();
                reached.push(target.key);
                metrics?.delivered(target.channel, 'delivered', (performance.now() - started) / 1000);
              } catch (error) {
                errors.push(`${target.channel === 'live' ? 'live' : `webhook ${target.key}`}: ${error instanceof Error ? error.message : String(error)}`);
                metrics?.delivered(target.channel, 'failed', (performance.now() - started) / 1000);
              }
            }),
        );
        if (errors.length === 0) return { row, reached };
        if (span) failSpan(span, errors.join('; '));
        return { row, reached, error: errors.join('; ') };
      })),
    ),
  );

  const done = attempts.filter((a) => a.error === undefined);
  const failed = attempts.filter((a) => a.error !== undefined);
  const fenced = (id: number) => and(eq(outbox.id, id), eq(outbox.leaseToken, batch.token));
  const writes: Promise<unknown>[] = [];
  if (done.length > 0) {
    writes.push(
      db
        .update(outbox)
        .set({ processedAt: sql`now()`, leaseToken: null, leaseUntil: null, lastError: null })
        .where(and(inArray(outbox.id, done.map((a) => a.row.id)), eq(outbox.leaseToken, batch.token))),
    );
  }
  let dead = 0;
  for (const attempt of failed) {
    const final = attempt.row.attempts >= settings.maxAttempts;
    if (final) dead++;
    writes.push(
      db
        .update(outbox)
        .set({
          leaseToken: null,
          leaseUntil: null,
          lastError: attempt.error!.slice(0, 1_000),
          deliveredTo: attempt.reached,
          ...(final
            ? { deadAt: sql`now()` }
            : { availableAt: sql`now() + make_interval(secs => ${retryDelayMs(attempt.row.attempts, settings) / 1000})` }),
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
  return attempts;
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
