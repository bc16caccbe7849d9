import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

export type Unsubscribe = () => Promise<void>;

/**
 * Fan-out of messages between instances. Messages are strings (callers serialize once);
 * delivery is at-most-once, so anything that must not be lost goes through the outbox.
 */
export interface PubSub {
  publish(topic: string, message: string): Promise<void>;
  /** Resolves once the subscription is active: a message published after that is delivered. */
  subscribe(topic: string, onMessage: (message: string) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}

/** One process only: the embedded default. */
export function createMemoryPubSub(): PubSub {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(topic, message) {
      emitter.emit(topic, message);
    },
    async subscribe(topic, onMessage) {
      emitter.on(topic, onMessage);
      return async () => {
        emitter.off(topic, onMessage);
      };
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/**
 * Redis pub/sub across instances. One subscriber connection per process, whatever the
 * number of local listeners: a topic is SUBSCRIBEd when its first listener arrives and
 * UNSUBSCRIBEd when its last one leaves.
 */
export function createRedisPubSub(publisher: Redis, subscriber: Redis, prefix: string): PubSub {
  const local = new EventEmitter();
  local.setMaxListeners(0);
  subscriber.on('message', (channel: string, message: string) => {
    if (channel.startsWith(prefix)) local.emit(channel.slice(prefix.length), message);
  });
  return {
    async publish(topic, message) {
      await publisher.publish(prefix + topic, message);
    },
    async subscribe(topic, onMessage) {
      local.on(topic, onMessage);
      if (local.listenerCount(topic) === 1) {
        try {
          await subscriber.subscribe(prefix + topic);
        } catch (error) {
          // Leave no listener behind: the next subscriber tries SUBSCRIBE again.
          local.off(topic, onMessage);
          throw error;
        }
      }
      return async () => {
        local.off(topic, onMessage);
        if (local.listenerCount(topic) === 0) await subscriber.unsubscribe(prefix + topic);
      };
    },
    async close() {
      local.removeAllListeners();
    },
  };
}
