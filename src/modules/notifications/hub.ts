import { messagesOf, type PubSub } from '../../platform/pubsub.js';
import { notificationsTopic, OUTBOX_WAKE_TOPIC } from './worker.js';

/** What services need of the delivery side: waking workers, and a user's live notifications. */
export interface NotificationHub {
  /** After a commit that wrote outbox rows: workers on every instance look for them now. */
  wake(): void;
  watch(userId: string): Promise<AsyncIterableIterator<string>>;
}

export function createNotificationHub(pubsub: PubSub, onError: (error: unknown) => void): NotificationHub {
  return {
    wake: () => void pubsub.publish(OUTBOX_WAKE_TOPIC, '').catch(onError),
    watch: (userId) => messagesOf(pubsub, notificationsTopic(userId)),
  };
}
