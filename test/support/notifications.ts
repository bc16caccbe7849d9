import { eq } from 'drizzle-orm';
import type { Database } from '../../src/db/client.js';
import { users } from '../../src/db/schema.js';
import { notificationsTopic } from '../../src/modules/notifications/worker.js';
import type { Subscription } from './ws.js';

/**
 * graphql-ws does not acknowledge a subscription, and `notifications` sends nothing until
 * something happens: publishes a probe notification until the subscriber receives it (so
 * it is listening), then removes the probe from its results.
 */
export async function untilListening(
  app: { db: Database; pubsub: { publish(topic: string, message: string): Promise<unknown> } },
  subject: string,
  subscription: Subscription<any>,
): Promise<void> {
  const [user] = await app.db.select().from(users).where(eq(users.subject, subject));
  if (!user) throw new Error(`no user ${subject}`);
  const probe = JSON.stringify({ id: 'probe', kind: 'CAMPAIGN', message: 'probe', createdAt: new Date().toISOString() });
  const deadline = Date.now() + 5_000;
  while (!subscription.results.some((r) => r.data?.notifications?.id === 'probe')) {
    if (Date.now() > deadline) throw new Error(`the notifications subscription of ${subject} never started`);
    await app.pubsub.publish(notificationsTopic(user.id), probe);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 50));
  for (let i = subscription.results.length - 1; i >= 0; i--) {
    if (subscription.results[i]!.data?.notifications?.id === 'probe') subscription.results.splice(i, 1);
  }
}
