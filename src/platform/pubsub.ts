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

/**
 * Every message of `topic` from the moment this resolves, as an async iterator (for a
 * subscription resolver). Unlike a snapshot feed nothing is conflated: messages queue
 * for a slow reader, up to `maxQueued`, after which the oldest are dropped.
 * `return()` unsubscribes at once, even while a `next()` is waiting.
 */
export async function messagesOf(pubsub: PubSub, topic: string, maxQueued = 1_000): Promise<AsyncIterableIterator<string>> {
  const queued: string[] = [];
  let waiting: ((result: IteratorResult<string>) => void) | undefined;
  let done = false;
  const unsubscribe = await pubsub.subscribe(topic, (message) => {
    if (done) return;
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve({ value: message, done: false });
      return;
    }
    if (queued.length >= maxQueued) queued.shift();
    queued.push(message);
  });
  const iterator: AsyncIterableIterator<string> = {
    next() {
      if (queued.length > 0) return Promise.resolve({ value: queued.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    async return() {
      if (!done) {
        done = true;
        queued.length = 0;
        waiting?.({ value: undefined, done: true });
        waiting = undefined;
        await unsubscribe();
      }
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
